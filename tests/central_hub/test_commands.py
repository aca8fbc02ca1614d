"""Commands: written and audited before sending, answered through ingest, timed out, failed sends."""

from __future__ import annotations

from typing import Any

import pytest

from central_hub.audit import AuditLog
from central_hub.commands import CommandError, Commands, CommandState
from central_hub.errors import HubError
from central_hub.store import Store
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry


class Sender:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def send(self, device_id: str, body: dict[str, Any]) -> None:
        if self.fail:
            raise HubError("broker down")
        self.sent.append((device_id, body))


class Clock:
    t = NOW_MS / 1000

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("kiosk-001"), entry("kiosk-002")])


@pytest.fixture
def clock() -> Clock:
    return Clock()


def book(rig: Rig, clock: Clock, sender: Sender | None) -> Commands:
    return Commands(rig.store, AuditLog(rig.store, clock), sender, lambda d: d in rig.registry, clock)


def test_issue_answer_done(rig: Rig, clock: Clock) -> None:
    sender = Sender()
    commands = book(rig, clock, sender)
    cmd = commands.issue("alice", "kiosk-001", "reboot", {"after_s": 5}, timeout_s=30)
    assert cmd.state is CommandState.SENT and cmd.deadline_ms == NOW_MS + 30_000
    assert sender.sent == [("kiosk-001", {"command": "reboot", "id": cmd.id, "args": {"after_s": 5}})]
    [audit] = AuditLog(rig.store).entries()
    assert (audit.actor, audit.action, audit.target) == ("alice", "command", "kiosk-001")
    dev = FakeDevice(rig.registry["kiosk-001"])
    rig.one(*dev.state("birth"))
    rig.one(*dev.state("heartbeat", command_results=[{"id": cmd.id, "status": "done", "detail": "rebooting"}]),
            at_ms=NOW_MS + 900)
    done = commands.get(cmd.id)
    assert (done.state, done.done_ms, done.result) == (CommandState.DONE, NOW_MS + 900, "rebooting")
    history = [r[0] for r in rig.store.read("SELECT detail FROM fleet_events WHERE event = 'command-result'")]
    assert history == [f"#{cmd.id} done: rebooting"]
    # the next heartbeat does not carry the result again
    rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 1000)
    assert len(rig.store.read("SELECT 1 FROM fleet_events WHERE event = 'command-result'")) == 1


def test_a_device_cannot_answer_for_another_devices_command(rig: Rig, clock: Clock) -> None:
    commands = book(rig, clock, Sender())
    cmd = commands.issue("alice", "kiosk-001", "crl-refresh")
    other = FakeDevice(rig.registry["kiosk-002"])
    rig.one(*other.state("birth", command_results=[{"id": cmd.id, "status": "done"}]))
    assert commands.get(cmd.id).state is CommandState.SENT


def test_timeout_and_late_answer(rig: Rig, clock: Clock) -> None:
    commands = book(rig, clock, Sender())
    cmd = commands.issue("alice", "kiosk-001", "renew", timeout_s=10)
    clock.t += 10
    assert commands.expire() == 0  # at the deadline, not past it
    clock.t += 0.001
    assert commands.expire() == 1
    assert commands.get(cmd.id).state is CommandState.TIMEOUT
    dev = FakeDevice(rig.registry["kiosk-001"])
    rig.one(*dev.state("birth", command_results=[{"id": cmd.id, "status": "done"}]))
    assert commands.get(cmd.id).state is CommandState.TIMEOUT  # recorded in history, not rewritten


def test_a_send_the_broker_refused_fails_at_once(rig: Rig, clock: Clock) -> None:
    cmd = book(rig, clock, Sender(fail=True)).issue("alice", "kiosk-001", "update-offer", {"version": "2.0"})
    assert cmd.state is CommandState.FAILED and "broker down" in cmd.result


def test_refusals(rig: Rig, clock: Clock) -> None:
    commands = book(rig, clock, Sender())
    with pytest.raises(CommandError, match="unknown command"):
        commands.issue("alice", "kiosk-001", "format-disk")
    with pytest.raises(CommandError, match="not registered"):
        commands.issue("alice", "kiosk-404", "reboot")
    with pytest.raises(CommandError, match="no hub identity"):
        book(rig, clock, None).issue("alice", "kiosk-001", "reboot")
    assert AuditLog(rig.store).entries() == []
