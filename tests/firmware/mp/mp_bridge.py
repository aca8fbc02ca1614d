"""The CTG bridge loop: 1-s batches, Wi-Fi loss, watchdog, unknown time, NTP answers."""

import struct

from fakebroker import FakeBroker
from mchfw import cbor, clock, corometrics, counters, envelope, fsutil, hw_host, link, mqtt, outbox, robust
from mchfw.ctg_bridge import CtgBridge

DEV = "bridge-ctg-001"
K, IV = bytes(16), bytes(13)


class Cfg:
    device_id, kind, firmware = DEV, "bridge", "t"
    uplink_key, uplink_iv, downlink_key, downlink_iv = K, IV, bytes(range(16)), bytes(range(13))


class SimClock:
    def __init__(self):
        self.t = 0
        self.unix = None

    def ticks(self):
        return self.t

    def now_ms(self):
        return None if self.unix is None else self.unix + self.t

    def uptime_s(self):
        return self.t // 1000

    def sync_ntp(self, host):
        return False


class Monitor:
    def __init__(self, clock):
        self.clock, self.next_at = clock, 0

    def read(self, max_n, timeout_ms):
        if self.clock.t < self.next_at:
            return b""
        self.next_at += 250
        return corometrics.build_frame(corometrics.RT_HR1, b"140") + corometrics.build_frame(corometrics.RT_UA, b"20")


def _rig(tmp):
    board = hw_host.Board(tmp + "/hw")
    ctrs = counters.Counters(tmp + "/ctr")
    box = outbox.Outbox(tmp + "/q", ctrs)
    clk = SimClock()
    brokers = []

    def opener():
        if not board.wifi().isconnected():
            raise OSError(113)
        brokers.append(FakeBroker())
        return brokers[-1]

    r = robust.Robust(mqtt.Client(DEV), opener, clock=clk.ticks)
    lnk = link.Link(Cfg(), box, ctrs, r, clk)
    wdt = board.watchdog(5000)
    bridge = CtgBridge(Monitor(clk), corometrics.Decoder(), box, lnk, clk, wdt, board.wifi())
    return board, box, clk, brokers, bridge, wdt


def _run(bridge, clk, ms):
    end = clk.t + ms
    while clk.t < end:
        bridge.step()
        clk.t += 50


def test_one_record_per_second_with_unknown_time(tmp):
    board, box, clk, brokers, bridge, wdt = _rig(tmp)
    _run(bridge, clk, 5000)
    rows = box.pending(0, 100)
    assert 4 <= len(rows) <= 5
    body = cbor.loads(rows[0][4])
    assert body["hr1_bpm"] == [140] * len(body["hr1_bpm"]) and 3 <= len(body["hr1_bpm"]) <= 5
    assert rows[0][3] is None  # the clock is unknown: no time stamp, the counter orders it
    ctg = [p for p in brokers[0].published if p[0].endswith("/ctg")]
    hdr = envelope.peek(ctg[0][1])
    assert hdr["sealed_at_ms"] is None
    assert wdt.feeds >= 100 and fsutil.read_bytes(tmp + "/hw/wdt") == str(wdt.feeds).encode()


def test_keeps_recording_through_wifi_loss(tmp):
    board, box, clk, brokers, bridge, wdt = _rig(tmp)
    _run(bridge, clk, 2000)
    assert bridge.link.robust.connected
    with open(tmp + "/hw/wifi_down", "w") as f:
        f.write("1")
    _run(bridge, clk, 10000)
    assert not bridge.link.robust.connected
    assert box.depth() >= 10  # recorded while offline, nothing lost
    feeds = wdt.feeds
    fsutil.remove(tmp + "/hw/wifi_down")
    _run(bridge, clk, 40000)
    assert bridge.link.robust.connected and len(brokers) == 2
    sent = [r[0] for p in brokers[1].published if p[0].endswith("/ctg")
            for r in envelope.open_envelope(p[1], K, IV, p[0])[1]]
    assert len(sent) >= 12 and wdt.feeds > feeds


def test_ntp_answer_sets_the_clock(tmp):
    c = clock.Clock()
    assert not c.known() and c.now_ms() is None
    origin = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    pkt = bytearray(48)
    pkt[0], pkt[1] = 0x24, 2  # LI 0, version 4, mode 4 (server); stratum 2
    pkt[24:32] = origin
    pkt[40:48] = struct.pack(">II", clock.NTP_UNIX_DELTA_S + 1764072000, 1 << 31)
    assert not c.apply_ntp(bytes(pkt), b"\x00" * 8)  # not an answer to our request
    assert c.apply_ntp(bytes(pkt), origin)
    assert abs(c.now_ms() - 1764072000500) < 50
    assert not clock.Clock().apply_ntp(b"short", origin)
    assert not c.sync_ntp("127.0.0.1", 9)  # nothing answers: no exception, still False
