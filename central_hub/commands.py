"""Commands to devices, with an acknowledgement and a timeout; every one audited.

A command is written (state `sent`, with its deadline) and audited in one transaction, then
published as `cmd/1` `{"command", "id", "args"}` sealed with the device's downlink key. The
device answers in its next state message (`command_results`, sent at once); the ingest
transaction that applies it moves the command to `done`, `refused` or `failed`
(central_hub.store.base). No answer by the deadline: `expire` moves it to `timeout`. A
publish the broker did not take moves it to `failed` at once. Writing before publishing means
an answer can never arrive for a command the hub has not recorded yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from central_hub.audit import AuditLog
from central_hub.errors import HubError
from central_hub.store.base import Store

DEFAULT_TIMEOUT_S = 60
MAX_TIMEOUT_S = 3600


class CommandKind(StrEnum):
    REBIRTH = "rebirth"  # send a birth now (full state)
    CONFIG_PUSH = "config-push"  # fetch and apply the configuration named in args
    CRL_REFRESH = "crl-refresh"  # fetch the site CRL now
    RENEW = "renew"  # start certificate renewal
    REBOOT = "reboot"
    UPDATE_OFFER = "update-offer"  # a signed firmware image follows as fw-chunk/1 (args: manifest; firmware_channel)


class CommandState(StrEnum):
    SENT = "sent"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class CommandRow:
    id: int
    device_id: str
    command: str
    args: dict[str, Any]
    actor: str
    state: CommandState
    created_ms: int
    deadline_ms: int
    done_ms: int | None
    result: str


class CommandError(HubError):
    """A command could not be issued (unknown command, unknown or revoked device, bad arguments)."""


class CommandSender(Protocol):
    """Publishes one cmd/1 body to a device; raises HubError when the broker did not take it."""

    def send(self, device_id: str, body: dict[str, Any]) -> None: ...


_COLUMNS = "id, device_id, command, args, actor, state, created_ms, deadline_ms, done_ms, result"


class Commands:
    def __init__(self, store: Store, audit: AuditLog, sender: CommandSender | None,
                 known_device: Callable[[str], bool], clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.audit = audit
        self.sender = sender
        self.known_device = known_device  # registered and active
        self.clock = clock

    def issue(self, actor: str, device_id: str, command: str, args: Mapping[str, Any] | None = None,
              timeout_s: int = DEFAULT_TIMEOUT_S) -> CommandRow:
        try:
            kind = CommandKind(command)
        except ValueError:
            raise CommandError(f"unknown command {command!r}") from None
        if not self.known_device(device_id):
            raise CommandError(f"device {device_id!r} is not registered and active")
        if not 1 <= timeout_s <= MAX_TIMEOUT_S:
            raise CommandError(f"timeout {timeout_s} s: want 1..{MAX_TIMEOUT_S}")
        if self.sender is None:
            raise CommandError("this dashboard has no hub identity to send commands with (start it with --hub-id)")
        args_text = json.dumps(dict(args or {}), sort_keys=True, ensure_ascii=False)
        now = int(self.clock() * 1000)
        deadline = now + timeout_s * 1000
        with self.store.write():
            cur = self.store.execute(
                "INSERT INTO commands (device_id, command, args, actor, state, created_ms, deadline_ms, result)"
                " VALUES (?, ?, ?, ?, 'sent', ?, ?, '') RETURNING id",
                (device_id, kind.value, args_text, actor, now, deadline))
            command_id = int(cur.fetchone()[0])
            self.audit.append_in_transaction(actor, "command", device_id,
                                             {"id": command_id, "command": kind.value, "args": json.loads(args_text),
                                              "timeout_s": timeout_s})
        body: dict[str, Any] = {"command": kind.value, "id": command_id}
        if args:
            body["args"] = dict(args)
        try:
            self.sender.send(device_id, body)
        except HubError as exc:
            self._finish(command_id, CommandState.FAILED, f"not sent: {exc}")
        return self.get(command_id)

    def _finish(self, command_id: int, state: CommandState, result: str) -> None:
        with self.store.write():
            self.store.execute("UPDATE commands SET state = ?, done_ms = ?, result = ? WHERE id = ? AND state = 'sent'",
                               (state.value, int(self.clock() * 1000), result[:400], command_id))

    def expire(self) -> int:
        """Commands past their deadline without an answer become `timeout`; returns how many."""
        now = int(self.clock() * 1000)
        with self.store.write():
            cur = self.store.execute("UPDATE commands SET state = 'timeout', done_ms = ?, result = ?"
                                     " WHERE state = 'sent' AND deadline_ms < ?",
                                     (now, "no answer from the device by the deadline", now))
            return max(0, int(cur.rowcount or 0))

    def get(self, command_id: int) -> CommandRow:
        rows = self.store.read(f"SELECT {_COLUMNS} FROM commands WHERE id = ?", (command_id,))
        if not rows:
            raise CommandError(f"no command #{command_id}")
        return _row(rows[0])

    def for_device(self, device_id: str, limit: int = 50) -> list[CommandRow]:
        return [_row(r) for r in self.store.read(
            f"SELECT {_COLUMNS} FROM commands WHERE device_id = ? ORDER BY id DESC LIMIT ?", (device_id, limit))]

    def recent(self, limit: int = 100) -> list[CommandRow]:
        return [_row(r) for r in self.store.read(f"SELECT {_COLUMNS} FROM commands ORDER BY id DESC LIMIT ?",
                                                 (limit,))]

    def counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.store.read("SELECT state, count(*) FROM commands GROUP BY state")}


def _row(r: Any) -> CommandRow:
    return CommandRow(int(r[0]), r[1], r[2], json.loads(r[3]), r[4], CommandState(r[5]), int(r[6]), int(r[7]),
                      None if r[8] is None else int(r[8]), r[9])
