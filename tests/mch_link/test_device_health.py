"""DeviceLink's fleet reports without a broker: faults, outbox age, commands carried out once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from mch_link import envelope
from mch_link.device import DeviceConfig, DeviceLink
from mch_link.envelope import Record
from mch_link.keys import LinkKeys
from mch_link.outbox import Outbox
from mch_link.topics import Kind, topic

DEV = "kiosk-008"


class Client:
    """Records what the link publishes (the paho client's publish, nothing else is used here)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, where: str, payload: bytes, qos: int = 0) -> None:
        self.published.append((where, payload))


def make(tmp_path: Path, **kwargs: Any) -> DeviceLink:
    cfg = DeviceConfig(DEV, "kiosk", "127.0.0.1", 1, tmp_path / "ca.pem", tmp_path / "device.crt.pem",
                       tmp_path / "device.key.pem")
    return DeviceLink(cfg, LinkKeys.generate(DEV), Outbox(tmp_path / "o.db"), heartbeat_s=10, **kwargs)


def state_bodies(link: DeviceLink, client: Client) -> list[dict[str, Any]]:
    out = []
    for where, payload in client.published:
        opened = envelope.open_envelope(payload, link.keys.uplink, where)
        out += [r.body for r in opened.records]
    return out


def command(link: DeviceLink, body: dict[str, Any]) -> mqtt.MQTTMessage:
    where = topic(DEV, Kind.CMD)
    msg = mqtt.MQTTMessage(topic=where.encode())
    msg.payload = envelope.seal(link.keys.downlink, DEV, where, 9, "cmd/1", [Record(0, body)])
    return msg


def test_heartbeat_reports_faults_interval_and_outbox_age(tmp_path: Path) -> None:
    link = make(tmp_path, faults=lambda: [{"code": "paper-out", "severity": "warning"}])
    link.submit(Kind.RECORDS, "sim/1", {"seq": 1, "fhr_bpm": [140], "toco": [9]})
    client = Client()
    link._publish_state(client, "heartbeat")  # type: ignore[arg-type]
    [body] = state_bodies(link, client)
    assert body["faults"] == [{"code": "paper-out", "severity": "warning"}]
    assert body["heartbeat_s"] == 10 and body["queue_depth"] == 1 and 0 <= body["oldest_record_age_s"] <= 1
    assert body["command_results"] == []


@pytest.mark.parametrize("report", [lambda: [{"code": "Paper Out!", "severity": "warning"}], lambda: 1 / 0])
def test_a_bad_fault_report_does_not_cost_the_state_message(tmp_path: Path, report: Any) -> None:
    link = make(tmp_path, faults=report)
    client = Client()
    link._publish_state(client, "birth")  # type: ignore[arg-type]
    [body] = state_bodies(link, client)
    assert body["event"] == "birth" and [f["code"] for f in body["faults"]] == ["fault-report-invalid"]


def test_a_command_is_carried_out_once_and_answered_once(tmp_path: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    link = make(tmp_path, on_command=lambda c, a: (seen.append((c, a)), ("done", "ok"))[1])
    client = Client()
    msg = command(link, {"command": "config-push", "id": 4, "args": {"version": 3}})
    link._on_message(client, None, msg)  # type: ignore[arg-type]
    link._on_message(client, None, msg)  # a redelivery: not run again
    assert seen == [("config-push", {"version": 3})]
    first, *rest = state_bodies(link, client)
    assert first["event"] == "heartbeat" and first["command_results"] == [{"id": 4, "status": "done", "detail": "ok"}]
    assert rest == []
    link._publish_state(client, "heartbeat")  # type: ignore[arg-type]
    assert state_bodies(link, client)[-1]["command_results"] == []


def test_without_a_handler_only_rebirth_is_done(tmp_path: Path) -> None:
    link = make(tmp_path)
    client = Client()
    link._on_message(client, None, command(link, {"command": "reboot", "id": 1}))  # type: ignore[arg-type]
    link._on_message(client, None, command(link, {"command": "rebirth", "id": 2}))  # type: ignore[arg-type]
    reboot, rebirth = state_bodies(link, client)
    assert reboot["command_results"][0]["status"] == "refused"
    assert rebirth["event"] == "birth" and rebirth["command_results"] == [{"id": 2, "status": "done", "detail": ""}]


def test_a_station_reports_its_alarm_summary(tmp_path: Path) -> None:
    link = make(tmp_path, alarm_summary=lambda: {"beds_in_alarm": 2, "highest": "high"})
    client = Client()
    link._publish_state(client, "heartbeat")  # type: ignore[arg-type]
    assert state_bodies(link, client)[0]["alarms"] == {"beds_in_alarm": 2, "highest": "high"}
    bad = make(tmp_path / "bad", alarm_summary=lambda: {"beds_in_alarm": -1, "highest": "urgent"})
    other = Client()
    bad._publish_state(other, "heartbeat")  # type: ignore[arg-type]
    [body] = state_bodies(bad, other)
    assert body["event"] == "heartbeat" and "alarms" not in body


def test_report_state_sends_one_state_soon_and_at_most_one_a_second(tmp_path: Path) -> None:
    """A fault that appears between heartbeats reaches the hub in about a second, not at the next heartbeat;
    a device whose faults flap still sends at most one state message a second."""
    link = make(tmp_path, faults=lambda: [{"code": "paper-out", "severity": "critical"}])
    link.heartbeat_s = 3600
    client = Client()
    sent_at: list[float] = []
    record = client.publish
    client.publish = lambda where, payload, qos=0: (sent_at.append(time.monotonic()), record(where, payload, qos))[1]
    link._client = client  # type: ignore[assignment]
    link.stats.connected = True
    sender = threading.Thread(target=link._send_loop, daemon=True)
    sender.start()
    try:
        time.sleep(0.2)
        assert client.published == []  # no heartbeat due for an hour
        asked = time.monotonic()
        for _ in range(5):  # five changes in a row: one state message
            link.report_state()
        deadline = asked + 3
        while not client.published and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(client.published) == 1 and sent_at[0] - asked < 2.5
        time.sleep(0.6)
        assert len(client.published) == 1
        link.report_state()
        while len(client.published) < 2 and time.monotonic() < deadline + 3:
            time.sleep(0.02)
        assert len(client.published) == 2 and sent_at[1] - sent_at[0] >= 0.99
        assert [b["faults"] for b in state_bodies(link, client)] == [[{"code": "paper-out", "severity": "critical"}]] * 2
    finally:
        link._stopping.set()
        link._wake.set()
        sender.join(5)
