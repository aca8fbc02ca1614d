"""What the firmware puts in its outbox conforms to the schemas the hub validates against."""

from __future__ import annotations

from pathlib import Path

from mchfw import cbor, counters, outbox  # firmware/ is on sys.path (conftest)

from mch_link import schemas


def test_loss_record_conforms_to_loss_1(tmp_path: Path) -> None:
    alarms: list[dict] = []
    box = outbox.Outbox(str(tmp_path / "q"), counters.Counters(str(tmp_path / "ctr")), max_bytes=3000,
                        segment_bytes=800, on_alarm=alarms.append)
    body = {"seq": 0, "hr1_bpm": [140, 141, None, 143], "hr2_bpm": [None] * 4, "toco": [10, 11, 12, 13]}
    for n in range(80):
        box.add("ctg", "bridge-ctg/1", dict(body, seq=n))
    losses = [cbor.loads(r[4]) for r in box.pending(0, 1000) if r[2] == outbox.LOSS_SCHEMA]
    assert losses and alarms
    for loss in losses + alarms:
        schemas.validate(outbox.LOSS_SCHEMA, loss)
    schemas.validate("bridge-ctg/1", body)
