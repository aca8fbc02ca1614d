"""Provision a MicroPython bridge over its serial raw REPL: the bundle into its flash, checked.

Each file is written to ``<name>.tmp`` in chunks of Python bytes literals, renamed into place
(so a cable pulled mid-file leaves the previous file or none, never half of one), and its
SHA-256 is computed on the board and compared with the laptop's. Then the board reads
config.json back and must name the device. MicroPython has no elliptic-curve key generation,
so a bridge's key is made at enrolment; `provision_board` is followed by removing the
device's secrets from the site (`bundle.hand_over` semantics, done by the CLI).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioning.bundle import CA_FILE, CERT_FILE, CONFIG_FILE, KEY_FILE, LINK_KEYS_FILE
from provisioning.errors import ProvisioningError
from provisioning.files import read_bytes
from provisioning.rawrepl import RawRepl

BOARD_FILES = (CONFIG_FILE, LINK_KEYS_FILE, CERT_FILE, KEY_FILE, CA_FILE)
OPTIONAL_BOARD_FILES = ("firmware-keys.json",)  # the signing keys it trusts (mch-provision firmware trust)
DEFAULT_REMOTE_DIR = "/bundle"  # where mchfw reads its bundle on the board
CHUNK = 256

_MKDIRS = """import os
_p = ''
for _x in {path!r}.strip('/').split('/'):
    _p += '/' + _x
    try:
        os.mkdir(_p)
    except OSError:
        pass
"""
_SHA256 = """import hashlib, binascii
_h = hashlib.sha256()
with open({path!r}, 'rb') as _f:
    while True:
        _b = _f.read(512)
        if not _b:
            break
        _h.update(_b)
print(binascii.hexlify(_h.digest()).decode())
"""


@dataclass(frozen=True)
class WrittenFile:
    name: str
    size: int
    sha256: str


Progress = Callable[[int], None]  # called with the number of bytes just written


def _write_file(repl: RawRepl, remote: str, data: bytes, progress: Progress | None) -> None:
    tmp = remote + ".tmp"
    repl.exec(f"_f = open({tmp!r}, 'wb')")
    for i in range(0, len(data), CHUNK):
        repl.exec(f"_f.write({data[i:i + CHUNK]!r})")
        if progress:
            progress(len(data[i:i + CHUNK]))
    repl.exec(f"_f.close()\nimport os\nos.rename({tmp!r}, {remote!r})")


def bundle_files(bundle: Path) -> dict[str, bytes]:
    files = {name: read_bytes(bundle / name, "bundle file") for name in BOARD_FILES}
    files.update({name: read_bytes(bundle / name, "bundle file") for name in OPTIONAL_BOARD_FILES
                  if (bundle / name).exists()})
    return files


def provision_board(repl: RawRepl, bundle: Path, device_id: str, remote_dir: str = DEFAULT_REMOTE_DIR,
                    progress: Progress | None = None) -> list[WrittenFile]:
    """Write the bundle's files into `remote_dir` on the board and check them there."""
    if not remote_dir.startswith("/"):
        raise ProvisioningError(f"the board directory must be absolute, got {remote_dir!r}")
    files = bundle_files(bundle)
    if json.loads(files[CONFIG_FILE]).get("device_id") != device_id:
        raise ProvisioningError(f"{bundle / CONFIG_FILE} is not the bundle of {device_id}")
    repl.enter()
    try:
        repl.exec(_MKDIRS.format(path=remote_dir))
        written = [_write_checked(repl, remote_dir, name, data, progress) for name, data in files.items()]
        _check_board_names(repl, remote_dir, device_id)
        return written
    finally:
        repl.leave()


def replace_link_keys(repl: RawRepl, keys_file: Path, device_id: str, remote_dir: str = DEFAULT_REMOTE_DIR,
                      progress: Progress | None = None) -> WrittenFile:
    """New envelope keys (`mch-provision rotate-keys --out`) onto a board already provisioned as
    `device_id`: only link-keys.json is replaced, so a bridge whose TLS key left the site can
    still be re-keyed. The board must already name the device; it takes the keys at its next boot."""
    data = read_bytes(keys_file, "link keys")
    try:
        named_in_file = json.loads(data).get("device_id")
    except (ValueError, AttributeError):
        named_in_file = None
    if named_in_file != device_id:
        raise ProvisioningError(f"{keys_file} holds the link keys of {named_in_file!r}, not of {device_id!r}")
    repl.enter()
    try:
        _check_board_names(repl, remote_dir, device_id)
        return _write_checked(repl, remote_dir, LINK_KEYS_FILE, data, progress)
    finally:
        repl.leave()


def _write_checked(repl: RawRepl, remote_dir: str, name: str, data: bytes, progress: Progress | None) -> WrittenFile:
    remote = f"{remote_dir.rstrip('/')}/{name}"
    _write_file(repl, remote, data, progress)
    digest = hashlib.sha256(data).hexdigest()
    on_board = repl.exec(_SHA256.format(path=remote)).decode().strip()
    if on_board != digest:
        raise ProvisioningError(f"{remote} on the board has SHA-256 {on_board}, written {digest}: "
                                "the line is noisy or the flash is failing; run the command again")
    return WrittenFile(name, len(data), digest)


def _check_board_names(repl: RawRepl, remote_dir: str, device_id: str) -> None:
    config_path = f"{remote_dir.rstrip('/')}/{CONFIG_FILE}"
    named = repl.exec(f"import json\nprint(json.load(open({config_path!r}))['device_id'])").decode().strip()
    if named != device_id:
        raise ProvisioningError(f"the board reads device id {named!r} from its config, expected {device_id!r}")
