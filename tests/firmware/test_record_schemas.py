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


def _bridge_link(tmp_path: Path):  # type: ignore[no-untyped-def]
    import sys

    from tests.firmware.conftest import MP_TESTS

    if str(MP_TESTS) not in sys.path:
        sys.path.insert(0, str(MP_TESTS))
    from fakebroker import FakeBroker  # type: ignore[import-not-found]
    from mchfw import link, mqtt, robust
    from mp_link import Cfg, Clock  # type: ignore[import-not-found]

    ctrs = counters.Counters(str(tmp_path / "ctr"))
    box = outbox.Outbox(str(tmp_path / "q"), ctrs)
    brokers: list = []

    def opener():  # type: ignore[no-untyped-def]
        brokers.append(FakeBroker())
        return brokers[-1]

    clock = Clock()
    lnk = link.Link(Cfg(), box, ctrs, robust.Robust(mqtt.Client(Cfg.device_id), opener, clock=clock.ticks), clock)
    return lnk, brokers


def test_state_with_answers_and_faults_conforms_to_state_1(tmp_path: Path) -> None:
    """The hub drops a state message that fails state/1 (the device would never show its answers)."""
    from mchfw import envelope

    lnk, brokers = _bridge_link(tmp_path)
    lnk.faults = lambda: [{"code": "update-rolled-back", "severity": "warning", "detail": "x" * 200}]
    lnk.firmware = lambda: "mchfw/1.1.0"
    lnk.service()
    for i in range(20):
        lnk.commands.finish(i + 1, ("done", "refused", "failed")[i % 3], "d" * 300)
    lnk.publish_state()
    lnk.publish_state()
    states = [envelope.open_envelope(p[1], lnk.cfg.uplink_key, lnk.cfg.uplink_iv, p[0])[1][0][2]
              for p in brokers[0].published if p[0].endswith("/state")]
    assert [len(s["command_results"]) for s in states] == [0, 16, 4]
    for body in states:
        schemas.validate("state/1", body)


def test_hub_sealed_offer_and_pieces_open_on_the_device(tmp_path: Path) -> None:
    """cmd/1 update-offer and fw-chunk/1 as central_hub.downlink seals them reach the firmware's handlers."""
    import base64
    from datetime import UTC, datetime

    from central_hub.directory import Directory
    from central_hub.downlink import DownlinkSealer
    from mch_link.keys import DirectionKey, LinkKeys
    from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry
    from mch_link.topics import Kind, topic

    lnk, brokers = _bridge_link(tmp_path)
    keys = LinkKeys(lnk.cfg.device_id, DirectionKey(lnk.cfg.uplink_key, lnk.cfg.uplink_iv),
                    DirectionKey(lnk.cfg.downlink_key, lnk.cfg.downlink_iv))
    entry = RegistryEntry(lnk.cfg.device_id, DeviceKind.BRIDGE, DeviceStatus.ACTIVE, "01", datetime(2030, 1, 1,
                          tzinfo=UTC), keys)

    class Counter:  # the hub's DownlinkCounters reserve in the store; the sealing is the same
        n = 0

        def next(self, device_id: str) -> int:
            self.n += 1
            return self.n

    sealer = DownlinkSealer(Directory.from_entries({entry.device_id: entry}), Counter())  # type: ignore[arg-type]
    offers, pieces = [], []
    lnk.commands.on("update-offer", lambda args, cid: offers.append((cid, args)))
    lnk.on_chunk = pieces.append
    lnk.service()
    piece = {"sha256": "ab" * 32, "offset": 2048, "data": base64.b64encode(b"\x00\xff" * 1024).decode()}
    schemas.validate("fw-chunk/1", piece)
    for message in (sealer.command(entry.device_id, {"command": "update-offer", "id": 3,
                                                     "args": {"manifest": {"version": "1.1.0"}}}),
                    sealer.firmware_chunk(entry.device_id, piece)):
        assert message.topic == topic(entry.device_id, Kind.CMD)
        brokers[0].push(message.topic, message.payload)
    lnk.service()
    assert offers == [(3, {"manifest": {"version": "1.1.0"}})] and pieces == [piece]
    assert lnk.stats["bad_downlink"] == 0
