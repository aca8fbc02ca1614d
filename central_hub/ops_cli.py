"""The operator-facing subcommands of `mch-hub`: `web`, `audit verify|show`, `user add|passwd|list`.

    mch-hub web --site DIR [--db URL] [--host 127.0.0.1] [--port 8080] [--hub-id hub-2] [--tls-cert C --tls-key K]
    mch-hub audit verify --site DIR [--expect-head HASH]      exit 1 when the chain is broken
    mch-hub audit show --site DIR [--limit 50]
    mch-hub user add --site DIR NAME --role operator|auditor|admin [--password-stdin] [--exist-ok]
    mch-hub user passwd --site DIR NAME [--password-stdin]
    mch-hub user list --site DIR
    mch-hub quarantine-release ID --site DIR [--state-dir D]  re-check held records, store them (audited)
    mch-hub quarantine-purge ID --site DIR                   delete one item (audited)
    mch-hub quarantine-export --site DIR --format csv|json|sqlite [--out F] [--reason R] [--device D]
    mch-hub inspect FILE.db [FILE.db ...] [--json]           what a site's SQLite file holds (read-only)
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from central_hub import datakey, exports, report
from central_hub.audit import AuditLog
from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.datakey import DataCipher
from central_hub.errors import HubError
from central_hub.quarantine_admin import QuarantineAdmin
from central_hub.store import Store, open_store
from central_hub.users import Role, Users

COMMANDS = ("web", "audit", "user", "quarantine-release", "quarantine-purge", "quarantine-export", "inspect")
CLI_ACTOR = "cli"
EXPORT_LIMIT = 10_000_000  # the quota keeps each device under 1,000 rows; this only bounds a runaway  # who the audit log names for changes made on the hub machine's command line

Common = Callable[[argparse.ArgumentParser, bool], None]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Common) -> None:
    web = sub.add_parser("web", help="serve the operators' dashboard (until SIGTERM/SIGINT)")
    common(web, True)
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0 = any free port)")
    web.add_argument("--hub-id", help="hub identity for sending commands (hub-<n>, not the workers' own); "
                                      "without it commands are off")
    web.add_argument("--broker", help="HOST:PORT for commands, instead of the one in <site>/site.json")
    web.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    web.add_argument("--tls-key", type=Path, help="... and this key")
    web.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    audit = sub.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="check every link of the chain (exit 1 if broken)")
    common(verify, False)
    verify.add_argument("--expect-head", help="the head hash written down earlier (detects rows cut off the end)")
    show = audit_sub.add_parser("show", help="the newest entries")
    common(show, False)
    show.add_argument("--limit", type=int, default=50)

    user = sub.add_parser("user", help="dashboard accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create an account")
    common(add, False)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--exist-ok", action="store_true",
                     help="if the user exists, set this password instead (for scripts such as make run)")
    passwd = user_sub.add_parser("passwd", help="set a new password (also unlocks)")
    common(passwd, False)
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    common(user_sub.add_parser("list", help="accounts, roles, lockout"), False)

    release = sub.add_parser("quarantine-release", help="check held records again and store them (audited; exit 1 and"
                                                        " the reason when they still fail)")
    common(release, False)
    release.add_argument("item", type=int, help="quarantine item id (as `mch-hub quarantine` lists)")
    purge = sub.add_parser("quarantine-purge", help="delete one quarantine item (audited)")
    common(purge, False)
    purge.add_argument("item", type=int, help="quarantine item id")
    export = sub.add_parser("quarantine-export", help="the quarantine as CSV, JSON or an SQLite table (sqlite-utils;"
                                                      " reasons, devices, times: never the payload)")
    common(export, False)
    export.add_argument("--format", choices=list(exports.FORMATS), default="csv")
    export.add_argument("--out", type=Path, help="write here (needed for sqlite; default stdout)")
    export.add_argument("--reason", help="only this reason")
    export.add_argument("--device", help="only this device")
    inspect = sub.add_parser("inspect", help="tables, rows, keys, indexes and triggers of SQLite files (hub database,"
                                             " device outbox, station archive), opened read-only with sqlite-utils")
    inspect.add_argument("files", type=Path, nargs="+", metavar="FILE")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")


def main(args: argparse.Namespace, db_url: Callable[[argparse.Namespace], str]) -> int:
    if args.command == "web":
        from central_hub.web.serve import serve  # uvicorn and the app only where needed

        return serve(args)
    if args.command == "inspect":
        found = [exports.inspect(f) for f in args.files]
        print(json.dumps(found, indent=2, ensure_ascii=False) if args.json
              else "\n\n".join(exports.inspect_text(i) for i in found))
        return 0
    store = open_store(db_url(args))
    try:
        if args.command == "audit":
            return _audit(args, AuditLog(store))
        if args.command == "quarantine-export":
            items = QuarantineAdmin(store, AuditLog(store)).items(args.reason, args.device, limit=EXPORT_LIMIT)
            text = exports.write(exports.quarantine_rows(items), exports.QUARANTINE_TABLE, "id", args.format, args.out,
                                 exports.QUARANTINE_COLUMNS)
            if text is not None:
                sys.stdout.write(text)
            return 0
        if args.command.startswith("quarantine-"):
            return _quarantine(args, store)
        return _user(args, Users(store), AuditLog(store))
    finally:
        store.close()


def _audit(args: argparse.Namespace, log: AuditLog) -> int:
    if args.audit_command == "show":
        rows = [[e.seq, report.when(e.at_ms, int(time.time() * 1000)), e.actor, e.action, e.target, e.detail]
                for e in log.entries(args.limit)]
        print(report.table(["seq", "at (UTC)", "actor", "action", "target", "detail"], rows))
        return 0
    result = log.verify(args.expect_head)
    if result.ok:
        print(f"audit log intact: {result.rows} rows; head seq {result.head_seq} hash {result.head_hash}")
        return 0
    where = f"row {result.bad_seq}" if result.bad_seq is not None else "the head"
    print(f"audit log BROKEN at {where}: {result.problem}; {result.rows} rows verified before it "
          f"(last good seq {result.head_seq} hash {result.head_hash})")
    return 1


def _quarantine(args: argparse.Namespace, store: Store) -> int:
    """Refusals raise HubError: `mch-hub` prints the reason and exits 1."""
    def data_key() -> DataCipher:
        state = args.state_dir or (args.site / DEFAULT_STATE_SUBDIR if args.site else None)
        if state is None:
            raise HubError("give --state-dir or --site: a release needs the hub data key")
        return datakey.load(Path(state) / datakey.KEY_FILE)

    admin = QuarantineAdmin(store, AuditLog(store), data_key)
    if args.command == "quarantine-purge":
        row = admin.purge(CLI_ACTOR, args.item)
        print(f"quarantine item #{row.id} purged ({row.reason}, {row.topic})")
        return 0
    done = admin.release(CLI_ACTOR, args.item)
    print(f"quarantine item #{args.item} released: {len(done.stored)} record(s) stored"
          + (f", {len(done.already)} were stored already" if done.already else "")
          + f" (device {done.item.device_id}, {done.item.schema_id})")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise HubError("the passwords differ")
    return first


def _user(args: argparse.Namespace, users: Users, log: AuditLog) -> int:
    if args.user_command == "list":
        now = int(time.time() * 1000)
        rows = [[u.username, u.role.value, "yes" if u.active else "no", u.failures,
                 report.when(u.locked_until_ms, now) if u.locked_until_ms > now else None] for u in users.all()]
        print(report.table(["user", "role", "active", "failures", "locked until (UTC)"], rows))
        return 0
    if args.user_command == "add":
        existing = users.get(args.username) if args.exist_ok else None
        if existing is not None:
            if existing.role.value != args.role:
                raise HubError(f"user {args.username} exists with role {existing.role.value}, not {args.role}")
            users.set_password(args.username, _password(args))
            log.append(CLI_ACTOR, "user-password", args.username)
            print(f"user {args.username} ({existing.role.value}) exists; password set")
            return 0
        user = users.create(args.username, args.role, _password(args))
        log.append(CLI_ACTOR, "user-create", user.username, {"role": user.role.value})
        print(f"user {user.username} ({user.role.value}) created")
        return 0
    users.set_password(args.username, _password(args))
    log.append(CLI_ACTOR, "user-password", args.username)
    print(f"password of {args.username} set; the account is unlocked")
    return 0
