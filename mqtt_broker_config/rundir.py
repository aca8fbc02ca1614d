"""The broker's run dir: rendered config + ACL, copies of the site's TLS files, persistence, log.

mosquitto started as root drops to `user` before it ever writes its database or re-reads
certificates and the CRL on SIGHUP. Everything it touches therefore lives here, owned by
that user, instead of in the site directory (which holds the CA keys and stays private).
"""

from __future__ import annotations

import errno
import os
import pwd
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from mqtt_broker_config import render
from mqtt_broker_config.errors import BrokerConfigError

ROOT_UID = 0
DEFAULT_DROP_USER = "mosquitto"  # what mosquitto itself drops to when root and `user` is unset
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700


@dataclass(frozen=True)
class RunUser:
    name: str
    uid: int
    gid: int


def run_user(name: str | None = None) -> RunUser:
    """Who mosquitto will run as: `name`, else `mosquitto` when we are root, else ourselves."""
    if name is None:
        name = DEFAULT_DROP_USER if os.geteuid() == ROOT_UID else pwd.getpwuid(os.geteuid()).pw_name
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise BrokerConfigError(f"broker user {name!r} does not exist (install mosquitto, or pass user=...)") from None
    if os.geteuid() != ROOT_UID and entry.pw_uid != os.geteuid():
        raise BrokerConfigError(f"cannot run mosquitto as {name!r} without being root")
    return RunUser(name, entry.pw_uid, entry.pw_gid)


def _can_traverse(path: Path, user: RunUser) -> bool:
    st = path.stat()
    if user.uid == ROOT_UID:
        return True
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid or st.st_gid in os.getgrouplist(user.name, user.gid):
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def check_reachable(run_dir: Path, user: RunUser) -> None:
    for parent in run_dir.resolve().parents:
        if not _can_traverse(parent, user):
            raise BrokerConfigError(
                f"run dir {run_dir}: user {user.name!r} cannot enter {parent} (mode "
                f"{stat.filemode(parent.stat().st_mode)}); choose a run dir it can reach, e.g. under /tmp or /var/lib")


def install(data: bytes, dest: Path, mode: int, user: RunUser) -> None:
    """Write `dest` with `mode` from the first byte, owned by the broker user; atomic rename.

    The run dir belongs to the broker user, who may plant symlinks in it; we may be root. So
    the directory is opened without following a symlink, the temporary file gets a random
    name and O_EXCL|O_NOFOLLOW, and the rename is relative to the opened directory."""
    dir_fd = open_dir(dest.parent)
    try:
        tmp = f".{dest.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=dir_fd)
        try:
            if os.geteuid() == ROOT_UID:
                os.fchown(fd, user.uid, user.gid)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def open_dir(path: Path) -> int:
    """An fd of directory `path`, refusing a symlink in any component under the run dir's parent."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BrokerConfigError(f"{path} is a symlink or not a directory; refusing to follow it") from None
        raise


def _read(site_dir: Path, rel: Path) -> bytes:
    path = site_dir / rel
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BrokerConfigError(f"site {site_dir}: cannot read {rel} ({exc.strerror}); "
                                "is it a site made by `mch-provision init-site`?") from None


def sync_tls(site_dir: Path, run_dir: Path, user: RunUser) -> None:
    """Copy CA chain, CRL, broker certificate and key into <run>/tls, render the ACL and the
    mch_guard policy (before start and before SIGHUP)."""
    tls = run_dir / render.TLS_DIR
    try:
        install(_read(site_dir, render.SITE_CHAIN), tls / "chain.pem", PUBLIC_MODE, user)
        install(_read(site_dir, render.SITE_CRL), tls / "crl.pem", PUBLIC_MODE, user)
        install(_read(site_dir, render.SITE_BROKER_CERT), tls / "broker.crt.pem", PUBLIC_MODE, user)
        install(_read(site_dir, render.SITE_BROKER_KEY), tls / "broker.key.pem", SECRET_MODE, user)
        install(render.render_acl(site_dir).encode(), run_dir / render.ACL_FILE, PUBLIC_MODE, user)
        install(render.render_policy(site_dir).encode(), run_dir / render.POLICY_FILE, PUBLIC_MODE, user)
    except OSError as exc:
        raise BrokerConfigError(f"run dir {run_dir}: cannot install {exc.filename}: {exc.strerror}") from None


def _make_dir(path: Path, user: RunUser) -> None:
    """Create (or reuse) a directory for the broker user; a symlink in its place is refused."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = open_dir(path)
    try:
        if os.geteuid() == ROOT_UID:
            os.fchown(fd, user.uid, user.gid)
    finally:
        os.close(fd)


def prepare(site_dir: Path, run_dir: Path, port: int, host: str, user: RunUser,
            settings: render.BrokerSettings | None = None) -> Path:
    """Create the run dir for `user`, copy the TLS files, write config + ACL; return the config path."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise BrokerConfigError("mosquitto is not installed (apt-get install mosquitto)")
    try:
        _make_dir(run_dir, user)
        check_reachable(run_dir, user)
        for sub in (render.TLS_DIR, render.DATA_DIR):
            _make_dir(run_dir / sub, user)
        log = run_dir / render.LOG_FILE
        if not os.path.lexists(log) or not stat.S_ISREG(os.lstat(log).st_mode):
            install(b"", log, PUBLIC_MODE, user)  # a symlink planted in its place is replaced
        sync_tls(site_dir, run_dir, user)
        conf = render.render_config(site_dir, run_dir, port, host, run_user=user.name, settings=settings)
        conf_path = run_dir / render.CONF_FILE
        install(conf.encode(), conf_path, PUBLIC_MODE, user)
    except OSError as exc:
        raise BrokerConfigError(f"run dir {run_dir}: {exc.strerror} ({exc.filename})") from None
    return conf_path
