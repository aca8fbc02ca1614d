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
