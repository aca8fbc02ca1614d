"""DeviceLink logic without a broker: acknowledgements, forged downlink, schema checks."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2
import paho.mqtt.client as mqtt
import pytest

from mch_link import cose, envelope
from mch_link.device import DeviceConfig, DeviceLink, _next_batch
from mch_link.envelope import Record
from mch_link.errors import LinkError, OutboxError, SchemaError
from mch_link.keys import DirectionKey, LinkKeys
from mch_link.outbox import Outbox
from mch_link.topics import Kind, topic

DEV = "kiosk-007"


@pytest.fixture
def link(tmp_path: Path) -> DeviceLink:
    cfg = DeviceConfig(DEV, "kiosk", "127.0.0.1", 1, tmp_path / "ca.pem", tmp_path / "device.crt.pem",
                       tmp_path / "device.key.pem")
    return DeviceLink(cfg, LinkKeys.generate(DEV), Outbox(tmp_path / "o.db"))


CLIENT = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=DEV, protocol=mqtt.MQTTv5)


def _downlink(link: DeviceLink, body: dict, key: DirectionKey | None = None, schema: str = "ack/1") -> mqtt.MQTTMessage:
    t = topic(DEV, Kind.ACK)
    msg = mqtt.MQTTMessage(topic=t.encode())
    msg.payload = envelope.seal(key or link.keys.downlink, DEV, t, 5, schema, [Record(0, body)])
    return msg


def test_submit_validates_and_persists(link: DeviceLink) -> None:
    ids = link.submit_many(Kind.CTG, "sim/1", [{"seq": 1, "fhr_bpm": [140], "toco": [9]}])
    assert link.depth() == 1 and ids
    with pytest.raises(SchemaError):
        link.submit(Kind.CTG, "sim/1", {"seq": -1, "fhr_bpm": [], "toco": []})
    with pytest.raises(LinkError):
        link.submit(Kind.STATE, "state/1", {"event": "birth", "bdseq": 0, "seq": 0})
    assert link.depth() == 1


def test_ack_deletes_only_named_records(link: DeviceLink) -> None:
    ids = link.submit_many(Kind.CTG, "sim/1", [{"seq": i, "fhr_bpm": [], "toco": []} for i in range(4)])
    link._on_message(CLIENT, None, _downlink(link, {"ok": ids[:2], "held": [ids[2]]}))
    assert [p.msg_id for p in link.outbox.pending()] == [ids[3]]
    assert link.stats.records_acked == 3


def test_forged_ack_is_ignored(link: DeviceLink) -> None:
    ids = link.submit_many(Kind.CTG, "sim/1", [{"seq": 1, "fhr_bpm": [], "toco": []}])
    link._on_message(CLIENT, None, _downlink(link, {"ok": ids, "held": []}, key=DirectionKey.generate()))
    link._on_message(CLIENT, None, _downlink(link, {"ok": ids, "held": []}, key=link.keys.uplink))
    assert link.depth() == 1 and link.stats.bad_downlink == 2


def test_ack_with_bad_body_is_ignored(link: DeviceLink) -> None:
    link.submit(Kind.CTG, "sim/1", {"seq": 1, "fhr_bpm": [], "toco": []})
    link._on_message(CLIENT, None, _downlink(link, {"ok": "everything"}))
    assert link.depth() == 1 and link.stats.bad_downlink == 1


def test_bundle_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="config.json"):
        DeviceConfig.from_bundle(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "mch-device/1", "device_id": DEV}))
    with pytest.raises(LinkError, match="KeyError"):
        DeviceConfig.from_bundle(tmp_path)


def test_batches_never_exceed_the_ccm_plaintext_limit(link: DeviceLink) -> None:
    """Large records are packed by bytes, not by count: every sealed batch fits AES-CCM's 65,535 bytes."""
    big = {"seq": 1, "fhr_bpm": [], "toco": [], "note": "胎" * 60}  # ~200-byte body
    link.submit_many(Kind.CTG, "sim/1", [big] * 400)
    rows = link.outbox.pending(limit=400)
    seen = 0
    while seen < len(rows):
        batch = _next_batch(rows[seen:])
        plaintext = cbor2.dumps([Record(r.msg_id, r.body, r.made_at_ms).to_cbor_obj() for r in batch])
        assert len(plaintext) <= cose.MAX_PLAINTEXT
        seen += len(batch)
    assert seen == 400


def test_a_record_too_large_for_any_envelope_is_refused_by_the_outbox(link: DeviceLink) -> None:
    with pytest.raises(OutboxError, match="cannot fit one envelope"):
        link.outbox.add("rec", "episode/1", {"note": "x" * 70_000})
    assert link.depth() == 0


class _Capture:
    """A stand-in for paho's client: records what the link publishes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, where: str, payload: bytes, qos: int = 0) -> None:
        self.sent.append((where, payload))

    def of(self, kind: Kind) -> list[bytes]:
        return [p for t, p in list(self.sent) if t == topic(DEV, kind)]


def _wait(predicate, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_wall_clock_step_back_stalls_neither_resends_nor_heartbeats(tmp_path: Path) -> None:
    import threading

    wall, mono = [1_790_000_000.0], [100.0]
    cfg = DeviceConfig(DEV, "kiosk", "127.0.0.1", 1, tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem")
    link = DeviceLink(cfg, LinkKeys.generate(DEV), Outbox(tmp_path / "o.db"), ack_timeout_s=5, heartbeat_s=10,
                      clock=lambda: wall[0], monotonic=lambda: mono[0])
    client = _Capture()
    link._client = client  # type: ignore[assignment]
    link.stats.connected = True
    link.submit(Kind.CTG, "sim/1", {"seq": 1, "fhr_bpm": [], "toco": []})
    sender = threading.Thread(target=link._send_loop, daemon=True)
    sender.start()
    try:
        assert _wait(lambda: len(client.of(Kind.CTG)) == 1)
        wall[0] -= 3600  # NTP steps the clock back an hour
        mono[0] += 11  # ... while 11 s pass
        link._wake.set()
        assert _wait(lambda: len(client.of(Kind.CTG)) == 2), "no resend after the ack timeout"
        assert _wait(lambda: len(client.of(Kind.STATE)) == 1), "no heartbeat"
        state = envelope.open_envelope(client.of(Kind.STATE)[0], link.keys.uplink, topic(DEV, Kind.STATE))
        assert state.records[0].body["uptime_s"] == 11.0
    finally:
        link._stopping.set()
        link._wake.set()
        sender.join(5)


def test_a_restored_outbox_never_repeats_a_nonce(tmp_path: Path) -> None:
    """The counter comes back to an old value when the outbox is restored from a backup; the random
    per-process epoch in the Partial IV still makes every nonce new."""
    import shutil

    cfg = DeviceConfig(DEV, "kiosk", "127.0.0.1", 1, tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem")
    keys = LinkKeys.generate(DEV)
    Outbox(tmp_path / "o.db").close()
    shutil.copy(tmp_path / "o.db", tmp_path / "backup.db")
    sealed = []
    for _ in range(2):
        shutil.copy(tmp_path / "backup.db", tmp_path / "o.db")  # the same counter state each time
        link = DeviceLink(cfg, keys, Outbox(tmp_path / "o.db"))
        sealed.append(link._seal(Kind.CTG, "sim/1", [Record(1, {"seq": 1, "fhr_bpm": [], "toco": []})]))
        link.outbox.close()
    headers = [envelope.peek(p) for p in sealed]
    assert headers[0].counter == headers[1].counter  # what used to make the same nonce
    assert headers[0].epoch != headers[1].epoch and all(len(h.epoch) == cose.EPOCH_LEN for h in headers)
    nonces = [cose.nonce_for(keys.uplink.base_iv, h.protected[cose.H_PARTIAL_IV]) for h in headers]
    assert nonces[0] != nonces[1]


def test_resend_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    from mch_link.device import JITTER, MAX_RESEND_AFTER_S, next_resend_after

    waits, t, elapsed = [], 30.0, 0.0
    while elapsed < 3600:
        waits.append(t)
        elapsed += t
        t = next_resend_after(t, 30.0)
    assert len(waits) <= 15  # resends of one unanswered window in an hour (120 at a fixed 30 s)
    for a, b in zip(waits, waits[1:], strict=False):
        assert b <= MAX_RESEND_AFTER_S * (1 + JITTER) and (b >= a * 2 * (1 - JITTER) or b >= MAX_RESEND_AFTER_S
                                                          * (1 - JITTER))
    assert len({round(w, 6) for w in waits}) == len(waits)  # jittered: no two devices in step
