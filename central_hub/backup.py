"""`mch-hub backup` / `mch-hub restore`: the hub's database, consistent while the hub runs, and its
keys kept apart from it.

    mch-hub backup  --site DIR [--db URL] [--state-dir DIR] --out BACKUP_DIR [--key-out KEY_DIR]
    mch-hub restore --site DIR [--db URL] [--state-dir DIR] --from BACKUP_DIR [--key KEY_DIR] [--force]

- SQLite: the online backup API (``sqlite3.Connection.backup``): a consistent copy taken page by
  page while workers keep writing. PostgreSQL: ``pg_dump --format=custom`` under a snapshot exported
  by the connection that counted the rows, so the manifest's counts are those of the dump.
- The data key (and the county matching key) never go into BACKUP_DIR: the manifest holds only a
  fingerprint. ``--key-out`` copies them to a separate directory (0700, files 0600; refused inside
  BACKUP_DIR), to be kept elsewhere (another medium, a safe): record bodies and quarantined payloads
  in a stolen backup cannot be read without them.
- Restore checks the files' SHA-256 and the key's fingerprint, refuses a target database that
  already holds a hub (unless --force), and moves every device's downlink counter 2**32 ahead:
  acknowledgements sealed after the backup was taken must never be sealed again under the same
  nonce. Replay windows come back as they were at the backup, so envelopes older than it are still
  refused. Records acknowledged after the backup are not in it (the recovery point is the last
  backup: docs/scale.md).
- On SQLite the hospital services keep their own file (``<state>/services.db``: patient index,
  pregnancy records, bookings, payments, queued registrations taken in); it is copied the same way
  beside ``hub.db`` and restored into the target's state directory. On PostgreSQL their tables
  are in the same database, hence in the dump.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg

from central_hub import datakey
from central_hub.config import DEFAULT_STATE_SUBDIR, default_db_url
from central_hub.errors import HubError
from central_hub.feed import blindindex
from central_hub.store import POSTGRES_PREFIXES, SQLITE_PREFIX, open_store

FORMAT = "mch-hub-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE, PG_FILE, SERVICES_FILE = "hub.db", "hub.pgdump", "services.db"
SERVICES_TABLES = ("svc_patients", "svc_pregnancy_records", "svc_bookings", "svc_payments", "svc_registrations")
KEY_FILES = (datakey.KEY_FILE, blindindex.KEY_FILE)
TABLES = ("records", "envelopes", "windows", "quarantine", "fleet", "downlink", "feed_outbox")
RESTORE_DOWNLINK_SKIP = 1 << 32
PG_TIMEOUT_S = 3600


class BackupError(HubError):
    """A backup cannot be taken or restored (the message says what to do)."""


@dataclass(frozen=True)
class Manifest:
    created_ms: int
    kind: str  # sqlite | postgresql
    data_file: str
    sha256: str
    counts: dict[str, int]
    key_fingerprint: str
    services_sha256: str | None = None  # SQLite: the services' own file, copied beside the database
    services_counts: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **self.__dict__}


def key_fingerprint(cipher: datakey.DataCipher) -> str:
    """Names the key without revealing it (SHA-256 over a label and every key, by id)."""
    h = hashlib.sha256(b"mch-hub data key fingerprint/1")
    for kid in sorted(cipher.keys):
        h.update(kid.to_bytes(4, "big") + cipher.keys[kid])
    return h.hexdigest()[:32]


def backup(db_url: str, state_dir: Path, out_dir: Path, key_out: Path | None) -> Manifest:
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"{out_dir} is not empty: give a new directory for each backup")
    if key_out is not None and _inside(Path(key_out), out_dir):
        raise BackupError("--key-out must not be inside the backup directory: keep the keys apart from the data")
    cipher = datakey.load(Path(state_dir) / datakey.KEY_FILE)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if db_url.startswith(SQLITE_PREFIX):
        kind, name, counts = "sqlite", SQLITE_FILE, _sqlite_backup(Path(db_url[len(SQLITE_PREFIX):]), out_dir / SQLITE_FILE)
    elif db_url.startswith(POSTGRES_PREFIXES):
        kind, name, counts = "postgresql", PG_FILE, _pg_dump(db_url, out_dir / PG_FILE)
    else:
        raise BackupError(f"database URL {db_url!r}: want sqlite:///<path> or postgresql://...")
    services, services_counts = Path(state_dir) / SERVICES_FILE, None
    if kind == "sqlite" and services.is_file():
        services_counts = _sqlite_backup(services, out_dir / SERVICES_FILE, SERVICES_TABLES)
    manifest = Manifest(int(time.time() * 1000), kind, name, _sha256(out_dir / name), counts, key_fingerprint(cipher),
                        None if services_counts is None else _sha256(out_dir / SERVICES_FILE), services_counts)
    (out_dir / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    if key_out is not None:
        _copy_keys(Path(state_dir), Path(key_out))
    return manifest


def restore(backup_dir: Path, db_url: str, state_dir: Path, key_dir: Path | None, force: bool = False) -> Manifest:
    manifest = read_manifest(Path(backup_dir))
    data = Path(backup_dir) / manifest.data_file
    if _sha256(data) != manifest.sha256:
        raise BackupError(f"{data}: SHA-256 differs from the manifest (damaged or altered backup)")
    services = Path(backup_dir) / SERVICES_FILE
    if manifest.services_sha256 is not None and _sha256(services) != manifest.services_sha256:
        raise BackupError(f"{services}: SHA-256 differs from the manifest (damaged or altered backup)")
    _install_keys(Path(state_dir), key_dir, manifest.key_fingerprint)
    if manifest.kind == "sqlite":
        if not db_url.startswith(SQLITE_PREFIX):
            raise BackupError("a SQLite backup restores into a sqlite:/// database")
        _sqlite_restore(data, Path(db_url[len(SQLITE_PREFIX):]), force)
        if manifest.services_sha256 is not None:
            _sqlite_restore(services, Path(state_dir) / SERVICES_FILE, force)
            with closing(sqlite3.connect(Path(state_dir) / SERVICES_FILE)) as conn:
                got = _counts(conn, SERVICES_TABLES)
            if got != manifest.services_counts:
                raise BackupError(f"restored services rows differ from the manifest: {got} != {manifest.services_counts}")
    else:
        if not db_url.startswith(POSTGRES_PREFIXES):
            raise BackupError("a PostgreSQL backup restores into a postgresql:// database")
        _pg_restore(data, db_url, force)
    store = open_store(db_url)  # migrates what an older backup lacks (and the feed trigger)
    try:
        counts = {t: int(store._read(f"SELECT count(*) FROM {t}")[0][0]) for t in manifest.counts}
        if counts != manifest.counts:
            raise BackupError(f"restored rows differ from the manifest: {counts} != {manifest.counts}")
        with store._write():
            store.execute("UPDATE downlink SET reserved = reserved + ?", (RESTORE_DOWNLINK_SKIP,))
            store.execute("INSERT INTO hub_meta (k, v) VALUES ('restored_from_ms', ?) ON CONFLICT (k)"
                          " DO UPDATE SET v = excluded.v", (str(manifest.created_ms),))
    finally:
        store.close()
    return manifest


def read_manifest(backup_dir: Path) -> Manifest:
    try:
        doc = json.loads((backup_dir / MANIFEST).read_text())
        if doc.pop("format") != FORMAT:
            raise BackupError(f"{backup_dir / MANIFEST}: not a {FORMAT} manifest")
        return Manifest(**doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{backup_dir / MANIFEST}: cannot read the manifest ({exc.__class__.__name__})") from None


# -- SQLite -------------------------------------------------------------------------------
def _sqlite_backup(source: Path, target: Path, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=4096)  # consistent even while workers write: restarts on a change
        return _counts(dst, tables)
    except sqlite3.Error as exc:
        raise BackupError(f"sqlite backup of {source}: {exc}") from None
    finally:
        dst.close()
        src.close()
        os.chmod(target, 0o600)


def _sqlite_restore(data: Path, target: Path, force: bool) -> None:
    if target.exists():
        if not force:
            raise BackupError(f"{target} exists: restore into a new path, or --force to replace it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    src, dst = sqlite3.connect(f"file:{data}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
        os.chmod(target, 0o600)


def _counts(conn: Any, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables if t in names}


# -- PostgreSQL -----------------------------------------------------------------------------
def _pg_parts(url: str) -> tuple[str, str | None]:
    """The DSN without `options`, and the schema named by `-c search_path=...` in it (or None)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = None
    for option in query.pop("options", []):
        for word in option.split():
            if word.startswith("search_path="):
                schema = word.split("=", 1)[1].split(",")[0]
    rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
    return urlunsplit(parts._replace(query=rest)), schema


def _pg_run(args: list[str], what: str) -> None:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=PG_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what}: {exc} (is postgresql-client installed?)") from None
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[-800:]}")


def _pg_dump(url: str, target: Path) -> dict[str, int]:
    dsn, schema = _pg_parts(url)
    try:
        with psycopg.connect(url, autocommit=False) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
            present = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables"
                                                  " WHERE table_schema = current_schema()")}
            counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                      for t in TABLES if t in present}
            _pg_run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot[0]}",  # type: ignore[index]
                     *([f"--schema={schema}"] if schema else []), f"--file={target}", dsn], "pg_dump")
    except psycopg.Error as exc:
        raise BackupError(f"postgresql: {exc}") from None
    os.chmod(target, 0o600)
    return counts


def _pg_restore(data: Path, url: str, force: bool) -> None:
    dsn, schema = _pg_parts(url)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            has_hub = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema ="
                                   " current_schema() AND table_name = 'records'").fetchone()
            if has_hub and has_hub[0] and not force:
                raise BackupError("the target database already holds a hub: restore into an empty one, or --force")
            if schema and not force:  # the dump creates its schema: an empty one in the way goes
                empty = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                     " WHERE n.nspname = %s", (schema,)).fetchone()
                if empty is not None and empty[0] == 0:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}"')
    except psycopg.Error as exc:
        raise BackupError(f"postgresql: {exc}") from None
    _pg_run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             *(["--clean", "--if-exists"] if force else []), f"--dbname={dsn}", str(data)], "pg_restore")


# -- keys -----------------------------------------------------------------------------------
def _copy_keys(state_dir: Path, key_out: Path) -> None:
    key_out.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in KEY_FILES:
        if (state_dir / name).exists():
            target = key_out / name
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write((state_dir / name).read_bytes())


def _install_keys(state_dir: Path, key_dir: Path | None, fingerprint: str) -> None:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    current = state_dir / datakey.KEY_FILE
    if key_dir is not None:
        given = datakey.load(key_dir / datakey.KEY_FILE)
        if key_fingerprint(given) != fingerprint:
            raise BackupError(f"{key_dir / datakey.KEY_FILE} is not the data key of this backup")
        if current.exists() and key_fingerprint(datakey.load(current)) != fingerprint:
            raise BackupError(f"{current} holds another data key: move it away first (it may open other data)")
        for name in KEY_FILES:
            if (key_dir / name).exists() and not (state_dir / name).exists():
                shutil.copyfile(key_dir / name, state_dir / name)
                os.chmod(state_dir / name, 0o600)
    if not current.exists():
        raise BackupError(f"no data key at {current}: give --key DIR (the keys saved with --key-out)")
    if key_fingerprint(datakey.load(current)) != fingerprint:
        raise BackupError(f"{current} is not the data key of this backup (fingerprint differs)")


def _inside(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- CLI ------------------------------------------------------------------------------------
def add_parsers(sub: argparse._SubParsersAction) -> None:
    for name, text in (("backup", "consistent copy of the hub database (keys apart: --key-out)"),
                       ("restore", "restore a backup into a new database")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--site", type=Path, required=True, help="site directory made by mch-provision")
        sp.add_argument("--db", help="sqlite:///<path> (default: <state-dir>/hub.db) or postgresql://...")
        sp.add_argument("--state-dir", type=Path, help="hub state: data key (default <site>/hub/state)")
        if name == "backup":
            sp.add_argument("--out", type=Path, required=True, help="new directory for the backup")
            sp.add_argument("--key-out", type=Path, help="separate directory for the keys (not inside --out)")
        else:
            sp.add_argument("--from", dest="source", type=Path, required=True, help="a backup directory")
            sp.add_argument("--key", type=Path, help="the key directory saved with --key-out")
            sp.add_argument("--force", action="store_true", help="replace a database that already holds a hub")


def main(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    state = Path(args.state_dir) if args.state_dir else Path(args.site) / DEFAULT_STATE_SUBDIR
    url = args.db or default_db_url(args.site, state)
    if args.command == "backup":
        m = backup(url, state, args.out, args.key_out)
        say(f"backup of {m.kind} database in {args.out}: {m.counts}")
        say(f"keys {'copied to ' + str(args.key_out) if args.key_out else 'NOT copied'} (fingerprint"
            f" {m.key_fingerprint}); keep them apart from the backup")
    else:
        m = restore(args.source, url, state, args.key, args.force)
        say(f"restored {m.kind} backup of {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(m.created_ms / 1000))} UTC"
            f" into {url}: {m.counts}; downlink counters moved {RESTORE_DOWNLINK_SKIP} ahead")
    return 0
