"""The link session (outbox -> envelopes -> acks) against the fake broker."""

import os

from fakebroker import FakeBroker
from mchfw import cbor, counters, envelope, link, mqtt, outbox, robust

DEV = "bridge-ctg-001"
UP_K, UP_IV = bytes(range(16)), bytes(range(100, 113))
DOWN_K, DOWN_IV = bytes(range(16, 32)), bytes(range(200, 213))


class Cfg:
    device_id = DEV
    kind = "bridge"
    firmware = "mchfw/test"
    uplink_key, uplink_iv = UP_K, UP_IV
    downlink_key, downlink_iv = DOWN_K, DOWN_IV


class Clock:
    def __init__(self):
        self.t = 1000

    def ticks(self):
        return self.t

    def now_ms(self):
        return 1764072000000 + self.t

    def uptime_s(self):
        return self.t // 1000


def _setup(tmp, **kw):
    ctrs = counters.Counters(tmp + "/ctr")
    box = outbox.Outbox(tmp + "/q", ctrs)
    clock = Clock()
    brokers = []

    def opener():
        brokers.append(FakeBroker())
        return brokers[-1]

    r = robust.Robust(mqtt.Client(DEV), opener, clock=clock.ticks)
    lnk = link.Link(Cfg(), box, ctrs, r, clock, **kw)
    return lnk, box, clock, brokers


def _open(topic, payload):
    return envelope.open_envelope(payload, UP_K, UP_IV, topic)


def _ack(ids, counter, key=DOWN_K, iv=DOWN_IV):
    t = link.topic(DEV, "ack")
    return t, envelope.seal(key, iv, "hub", t, counter, link.ACK_SCHEMA, [(0, None, {"ok": ids, "held": []})])


def test_birth_will_subscriptions(tmp):
    lnk, box, clock, brokers = _setup(tmp)
    lnk.service()
    b = brokers[0]
    assert b.subscriptions == [link.topic(DEV, "ack"), link.topic(DEV, "cmd")]
    _, _, will_topic, will_payload = b.connects[0]
    hdr, recs = _open(will_topic, will_payload)
    assert hdr["schema"] == "state/1" and recs[0][2]["event"] == "death"
    birth = [p for p in b.published if p[0] == link.topic(DEV, "state")]
    hdr2, recs2 = _open(birth[0][0], birth[0][1])
    assert recs2[0][2]["event"] == "birth" and recs2[0][2]["bdseq"] == recs[0][2]["bdseq"]
    assert hdr2["counter"] > hdr["counter"]


def test_records_sent_packed_and_deleted_only_on_ack(tmp):
    lnk, box, clock, brokers = _setup(tmp, batch_max=10)
    ids = [box.add("ctg", "ctg/1", {"seq": n, "fhr1_bpm": [140]}, 5) for n in range(25)]
    lnk.service()
    b = brokers[0]
    ctg = [p for p in b.published if p[0] == link.topic(DEV, "ctg")]
    assert len(ctg) == 3
    got = []
    for t, payload, qos, _pid in ctg:
        assert qos == 1
        hdr, recs = _open(t, payload)
        got += [r[0] for r in recs]
    assert got == ids
    assert box.depth() == 25  # PUBACKs from the broker deleted nothing
    t, payload = _ack(ids[:10], 1)
    b.push(t, payload)
    lnk.service()
    assert box.depth() == 15 and lnk.stats["acked"] == 10


def test_forged_ack_is_ignored(tmp):
    lnk, box, clock, brokers = _setup(tmp)
    ids = [box.add("ctg", "ctg/1", {"seq": n}) for n in range(3)]
    lnk.service()
    t, payload = _ack(ids, 1, key=UP_K)  # sealed with the wrong key
    brokers[0].push(t, payload)
    brokers[0].push(t, b"\xd0garbage")
    lnk.service()
    assert box.depth() == 3 and lnk.stats["bad_downlink"] == 2


def test_resend_after_reconnect_uses_fresh_counters(tmp):
    lnk, box, clock, brokers = _setup(tmp)
    ids = [box.add("ctg", "ctg/1", {"seq": n}) for n in range(4)]
    lnk.service()
    first = [_open(p[0], p[1]) for p in brokers[0].published if p[0].endswith("/ctg")]
    brokers[0].closed = True
    clock.t += 10
    lnk.service()
    assert not lnk.robust.connected
    clock.t += 2000
    lnk.service()
    assert len(brokers) == 2
    again = [_open(p[0], p[1]) for p in brokers[1].published if p[0].endswith("/ctg")]
    assert [r[0] for h, recs in again for r in recs] == ids
    assert min(h["counter"] for h, _ in again) > max(h["counter"] for h, _ in first)
    # the second CONNECT carries a new bdseq in its will
    b1 = _open(brokers[0].connects[0][2], brokers[0].connects[0][3])[1][0][2]["bdseq"]
    b2 = _open(brokers[1].connects[0][2], brokers[1].connects[0][3])[1][0][2]["bdseq"]
    assert b2 == (b1 + 1) % 256


def test_ack_timeout_resends(tmp):
    lnk, box, clock, brokers = _setup(tmp, ack_timeout_ms=5000)
    box.add("ctg", "ctg/1", {"seq": 1})
    lnk.service()
    n = len(brokers[0].published)
    clock.t += 6000
    lnk.service()
    assert len(brokers[0].published) > n and lnk.stats["resends"] == 1


def test_rebirth_command_and_heartbeat(tmp):
    lnk, box, clock, brokers = _setup(tmp, heartbeat_ms=1000)
    lnk.service()
    t = link.topic(DEV, "cmd")
    brokers[0].push(t, envelope.seal(DOWN_K, DOWN_IV, "hub", t, 3, "cmd/1", [(0, None, {"command": "rebirth"})]))
    clock.t += 1500
    lnk.service()
    events = [_open(p[0], p[1])[1][0][2]["event"] for p in brokers[0].published if p[0].endswith("/state")]
    assert events == ["birth", "birth", "heartbeat"]
    hb = [_open(p[0], p[1])[1][0][2] for p in brokers[0].published if p[0].endswith("/state")][-1]
    assert hb["queue_depth"] == 0 and hb["seq"] == 2


def test_body_bytes_survive_the_outbox(tmp):
    lnk, box, clock, brokers = _setup(tmp)
    body = {"seq": 1, "fhr1_bpm": [140, None, 141], "toco": [], "note": "孕"}
    box.add("ctg", "ctg/1", body, None)
    lnk.service()
    p = [p for p in brokers[0].published if p[0].endswith("/ctg")][0]
    pt = envelope.open_plaintext(p[1], UP_K, UP_IV, p[0])[1]
    assert pt == envelope.records_plaintext([(1, None, body)])
    assert cbor.loads(pt)[0]["b"]["note"] == "孕"


def test_unanswered_resends_back_off_with_jitter(tmp):
    """During a hub outage the window is resent after 5 s, then ~10 s, ~20 s, ... (+-20 %), not every 5 s;
    the first acknowledgement brings the timeout back to 5 s."""
    lnk, box, clock, brokers = _setup(tmp, ack_timeout_ms=5000, heartbeat_ms=10**9)
    box.add("ctg", "ctg/1", {"seq": 1})
    lnk.service()
    resend_at = []
    for _ in range(3600):  # one hour, one second at a time
        clock.t += 1000
        before = lnk.stats["resends"]
        lnk.service()
        if lnk.stats["resends"] > before:
            resend_at.append(clock.t)
    gaps = [b - a for a, b in zip(resend_at, resend_at[1:])]  # noqa: B905 - no strict= on MicroPython
    assert 6 <= len(resend_at) <= 15, resend_at
    for previous, gap in zip(gaps, gaps[1:]):  # noqa: B905
        assert gap >= previous * 1.2 or gap >= link.MAX_RESEND_AFTER_MS * 0.8 - 1000, gaps
    assert max(gaps) <= link.MAX_RESEND_AFTER_MS * 1.2 + 1000
    [payload] = [p[1] for p in brokers[0].published if p[0].endswith("/ctg")][-1:]
    hdr = envelope.peek(payload)
    ids = [r[0] for r in _open(link.topic(DEV, "ctg"), payload)[1]]
    brokers[0].push(*_ack(ids, 1))
    lnk.service()
    assert lnk.resend_after_ms == 5000 and hdr["epoch"] == lnk.epoch


def test_each_boot_seals_under_a_new_epoch(tmp):
    """A re-flashed board (or a lost counter file) comes back with old counters; the random epoch of
    each boot keeps the nonces new."""
    epochs = []
    for boot in range(2):
        where = tmp + "/boot" + str(boot)
        os.mkdir(where)
        lnk, box, clock, brokers = _setup(where)
        box.add("ctg", "ctg/1", {"seq": 1})
        lnk.service()
        [payload] = [p[1] for p in brokers[0].published if p[0].endswith("/ctg")]
        hdr = envelope.peek(payload)
        assert len(hdr["epoch"]) == envelope.EPOCH_LEN
        epochs.append((hdr["counter"], hdr["epoch"]))
    assert epochs[0][0] == epochs[1][0] and epochs[0][1] != epochs[1][1]  # same counter, new nonce


def _ack_body(body, counter):
    t = link.topic(DEV, "ack")
    return t, envelope.seal(DOWN_K, DOWN_IV, "hub", t, counter, link.ACK_SCHEMA, [(0, None, body)])


def test_ack_floor_moves_new_record_ids_above_it(tmp):
    """Issue 10: a re-flashed bridge hands out ids 1, 2, 3 again; the hub holds up to 500 and says so
    in the ack's floor. New records must get ids above it, also after a reboot (old code: 4, 5, ...)."""
    lnk, box, clock, brokers = _setup(tmp)
    ids = [box.add("ctg", "ctg/1", {"seq": n}) for n in range(3)]
    lnk.service()
    brokers[0].push(*_ack_body({"ok": [], "held": ids, "floor": 500}, 1))
    lnk.service()
    assert box.depth() == 0
    assert box.add("ctg", "ctg/1", {"seq": 9}) == 501
    rebooted = outbox.Outbox(tmp + "/q", counters.Counters(tmp + "/ctr"))
    assert rebooted.add("ctg", "ctg/1", {"seq": 10}) > 501
    brokers[0].push(*_ack_body({"ok": [], "held": [], "floor": 7}, 2))  # a lower floor never lowers ids
    lnk.service()
    assert box.add("ctg", "ctg/1", {"seq": 11}) == 502


def _cmd(body, counter):
    t = link.topic(DEV, "cmd")
    return t, envelope.seal(DOWN_K, DOWN_IV, "hub", t, counter, "cmd/1", [(0, None, body)])


def _states(broker):
    return [_open(p[0], p[1])[1][0][2] for p in broker.published if p[0].endswith("/state")]


def test_every_hub_command_is_answered_once(tmp):
    """Issue 14: the bridge answered only rebirth. Each command with an id gets one answer in the next
    state message; a redelivered one is not run again, not even after a reboot."""
    from mchfw import commands
    from mchfw.store import Store

    lnk, box, clock, brokers = _setup(tmp)
    resets = []
    settings = Store(tmp + "/settings")
    commands.bridge_handlers(lnk.commands, lnk, lambda: resets.append(1), settings)
    lnk.service()
    sent = [{"command": "rebirth", "id": 1}, {"command": "reboot", "id": 2},
            {"command": "config-push", "id": 3, "args": {"bridge": {"heartbeat_ms": 7000}}},
            {"command": "config-push", "id": 4, "args": {"bridge": {"colour": 1}}},
            {"command": "crl-refresh", "id": 5}, {"command": "renew", "id": 6},
            {"command": "update-offer", "id": 7, "args": {}}, {"command": "resend", "id": 8},
            {"command": "reboot", "id": 2}]
    for n, body in enumerate(sent):
        brokers[0].push(*_cmd(body, 10 + n))
    lnk.service()
    results = {}
    for st in _states(brokers[0]):
        for r in st.get("command_results", []):
            assert r["id"] not in results, r  # once each
            results[r["id"]] = (r["status"], r["detail"])
    assert results[1][0] == "done" and results[2] == ("done", "rebooting")
    assert results[3] == ("done", "applied heartbeat_ms") and lnk.heartbeat_ms == 7000
    assert results[4][0] == "refused" and "colour" in results[4][1]
    assert results[5][0] == "refused" and "CRL" in results[5][1]
    assert results[6][0] == "refused" and results[7][0] == "refused"  # no update session on a bare link
    assert results[8][0] == "done"
    assert len(resets) == 1  # the redelivered reboot (#2 again) did not run twice
    assert _states(brokers[0])[-1]["heartbeat_s"] == 7
    # after a reboot: the setting is still there, and #2 is still known
    lnk2, _, _, brokers2 = _setup(tmp)
    commands.bridge_handlers(lnk2.commands, lnk2, lambda: resets.append(2), Store(tmp + "/settings"))
    assert lnk2.heartbeat_ms == 7000
    lnk2.service()
    brokers2[0].push(*_cmd({"command": "reboot", "id": 2}, 40))
    lnk2.service()
    assert len(resets) == 1 and not any(st.get("command_results") for st in _states(brokers2[0]))
