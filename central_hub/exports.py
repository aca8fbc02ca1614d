"""Exports (indicators, the quarantine) and inspection of a site's SQLite files, with sqlite-utils.

- An export is first a table made by sqlite-utils (`Table.insert_all`, primary key and column
  types declared). `--format sqlite` keeps that file; CSV and JSON are sqlite-utils' own writers
  run on it (`python -m sqlite_utils rows FILE TABLE [--csv]`, the command a technician
  would type), so this module writes no CSV or JSON itself.
- The rows come from the hub store through `Store`, the same on SQLite and PostgreSQL: on a
  PostgreSQL hub the export is read with psycopg as every other query, written by sqlite-utils
  into the export file, and formatted from there. No personal data leaves in a quarantine export:
  the sealed payload stays behind, only reasons, devices, topics, ids and times go.
- `inspect` opens a SQLite file read-only (`mode=ro`) with sqlite-utils and lists its tables
  (rows, columns, primary key, indexes), views, triggers, journal mode and size: the hub's
  database, a device's outbox, a station's archive. It shows no row content.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from central_hub.errors import HubError
from central_hub.store.model import QuarantineRow

FORMATS = ("csv", "json", "sqlite")
CLI_TIMEOUT_S = 120
QUARANTINE_TABLE = "quarantine"
QUARANTINE_COLUMNS: dict[str, type] = {
    "id": int, "reason": str, "device_id": str, "topic": str, "schema_id": str, "msg_id": int, "seen": int,
    "first_at": str, "last_at": str, "first_at_ms": int, "last_at_ms": int, "detail": str}


class ExportError(HubError):
    """An export or inspection could not be done (bad file, sqlite-utils failed)."""


def write(rows: Sequence[dict[str, Any]], table: str, pk: str | tuple[str, ...], fmt: str, out: Path | None,
          columns: dict[str, type] | None = None) -> str | None:
    """Write `rows` as table `table`: into the SQLite file `out` (fmt sqlite, rows replaced by key), or as
    CSV/JSON to `out`, or returned as text when `out` is None."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: want one of {', '.join(FORMATS)}")
    if fmt == "sqlite":
        if out is None:
            raise ExportError("--format sqlite needs --out FILE")
        _insert(Path(out), table, rows, pk, columns)
        return None
    with tempfile.TemporaryDirectory(prefix="mch-export-") as tmp:
        path = Path(tmp) / "export.db"
        _insert(path, table, rows, pk, columns)
        text = _sqlite_utils("rows", str(path), table, *(["--csv"] if fmt == "csv" else []))  # JSON: its default
    if fmt == "json":
        text = text.rstrip("\n") + "\n"
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
        return None
    return text


def _insert(path: Path, table: str, rows: Sequence[dict[str, Any]], pk: str | tuple[str, ...],
            columns: dict[str, type] | None) -> None:
    try:
        db = sqlite_utils.Database(path)
        try:
            t = db.table(table)
            if columns and not t.exists():
                t.create(columns, pk=pk)
            t.insert_all(rows, pk=pk, replace=True, columns=columns)
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        raise ExportError(f"cannot write {path}: {exc}") from None


def _sqlite_utils(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sqlite_utils", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S)
    if done.returncode != 0:
        raise ExportError(f"sqlite-utils {args[0]} failed: {done.stderr.strip()[:400]}")
    return done.stdout


def quarantine_rows(items: Sequence[QuarantineRow]) -> list[dict[str, Any]]:
    """The quarantine as exported: what, from whom, why, when (UTC) — never the payload."""
    return [{"id": q.id, "reason": q.reason, "device_id": q.device_id, "topic": q.topic, "schema_id": q.schema_id,
             "msg_id": q.msg_id, "seen": q.seen, "first_at": _iso(q.first_at_ms), "last_at": _iso(q.last_at_ms),
             "first_at_ms": q.first_at_ms, "last_at_ms": q.last_at_ms, "detail": q.detail} for q in items]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- inspection ---------------------------------------------------------------------------
def inspect(path: Path) -> dict[str, Any]:
    """What a SQLite file holds, read-only: tables with row counts, columns, keys, indexes; views; triggers."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db = sqlite_utils.Database(conn)
            tables = [{
                "name": t.name, "rows": t.count, "pk": t.pks,
                "columns": [{"name": c.name, "type": c.type, "notnull": bool(c.notnull)} for c in t.columns],
                "indexes": [{"name": i.name, "columns": i.columns, "unique": bool(i.unique)} for i in t.indexes],
            } for t in db.tables]
            return {"file": str(path), "bytes": path.stat().st_size, "journal_mode": db.journal_mode,
                    "tables": tables, "views": db.view_names(),
                    "triggers": [{"name": tr.name, "table": tr.table} for tr in db.triggers]}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{path}: not a readable SQLite database ({exc})") from None


def inspect_text(info: dict[str, Any]) -> str:
    from central_hub import report

    lines = [f"{info['file']}: {info['bytes']} bytes, journal {info['journal_mode']}, {len(info['tables'])} tables"]
    rows = [[t["name"], t["rows"], ", ".join(t["pk"]), len(t["columns"]),
             ", ".join(i["name"] for i in t["indexes"] if not i["name"].startswith("sqlite_autoindex")) or "-"]
            for t in info["tables"]]
    lines.append(report.table(["table", "rows", "primary key", "columns", "indexes"], rows))
    if info["views"]:
        lines.append("views: " + ", ".join(info["views"]))
    if info["triggers"]:
        lines.append("triggers: " + ", ".join(f"{t['name']} (on {t['table']})" for t in info["triggers"]))
    return "\n".join(lines)
