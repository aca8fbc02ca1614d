"""Firmware figures measured on the interpreter that runs this file (MicroPython unix port or
CPython): envelope seal/open time, outbox appends per second, bridge heap at steady state.

    mp_bench.py seal <n>            -> {"seal_us": .., "open_us": .., "bytes": ..}
    mp_bench.py outbox <dir> <n>    -> {"appends_per_s": ..}
    mp_bench.py heap <dir> <backlog_records> <sim_seconds>
                                    -> {"peak_alloc_kb": .., "peak_live_kb": .., "sent": .., "acked": ..}
    mp_bench.py verify <n>          -> {"p256_verify_ms": ..}
    mp_bench.py pieces <dir> <n>    -> {"pieces_per_s": .., "kb_per_s": ..}: fw-chunk/1 pieces of 2,048 bytes
                                       opened, decoded and written into an update slot (files on the host)
Prints one JSON line. The heap run needs fakebroker.py (tests/firmware/mp) on the path.
"""

import gc
import json
import sys
import time

from mchfw import corometrics, counters, envelope, link, mqtt, outbox, robust
from mchfw.ctg_bridge import CtgBridge

KEY, IV = bytes(range(16)), bytes(range(13))
DKEY, DIV = bytes(range(16, 32)), bytes(range(32, 45))
DEV = "bridge-ctg-001"
TOPIC = "mch/v1/bridge-ctg-001/ctg"
STEP_MS = 50
FRAME_EVERY_MS = 250
GC_THRESHOLD = 4096


def now_us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return int(time.perf_counter() * 1e6)


def ctg_body(n):
    return {"seq": n, "fhr1_bpm": [140, 141, 139, 140], "fhr2_bpm": [], "toco": [12, 13, 14, 15]}


def bench_seal(n):
    recs = [(1000 + i, 1764072000000 + i * 1000, ctg_body(i)) for i in range(1)]
    env = envelope.seal(KEY, IV, DEV, TOPIC, 1, "ctg/1", recs, 1764072000000)
    t0 = now_us()
    for i in range(n):
        env = envelope.seal(KEY, IV, DEV, TOPIC, i, "ctg/1", recs, 1764072000000)
    t1 = now_us()
    for _ in range(n):
        envelope.open_envelope(env, KEY, IV, TOPIC)
    t2 = now_us()
    return {"seal_us": (t1 - t0) / n, "open_us": (t2 - t1) / n, "bytes": len(env)}


def bench_outbox(d, n):
    box = outbox.Outbox(d, counters.Counters(d + "-ctr"))
    t0 = now_us()
    for i in range(n):
        box.add("ctg", "ctg/1", ctg_body(i), 1764072000000 + i)
    dt = (now_us() - t0) / 1e6
    return {"appends_per_s": n / dt if dt else 0}


def bench_verify(n):
    from mchfw import p256

    pub = bytes.fromhex("04471c3e758c4904285bba7e53118ed0f524adeb0757d25bd2f8e7b0d76dfa714cdd520f7aca8a8b917acc37f"
                        "51de8f0c9bbe3ad858382e702dc25a12d09f7a858") if hasattr(bytes, "fromhex") else None
    sig = bytes.fromhex("64be07dde8cc690a7b209df3ed0d57c58d02f25aea61ddf1309c31b8fa7965ca04f156284c822c0473a2a7273"
                        "341f7c4bb76a90386d6368f4f89d7b0183f93d2")
    q = p256.parse_pubkey(pub)
    t0 = now_us()
    ok = all(p256.verify(q, b"mchfw p256 test 1", sig) for _ in range(n))
    return {"p256_verify_ms": (now_us() - t0) / n / 1000, "ok": ok}


def bench_pieces(d, n):
    import binascii
    import hashlib

    from mchfw import slots_host, update

    piece = bytes(i % 251 for i in range(2048))
    image = piece * n
    m = {"format": "mchfw-manifest/1", "version": "9.9.9", "board": "esp32", "size": len(image),
         "sha256": binascii.hexlify(hashlib.sha256(image).digest()).decode(), "key_id": "k", "signature": ""}
    topic = "mch/v1/" + DEV + "/cmd"
    sealed = [envelope.seal(DKEY, DIV, "hub", topic, i, "fw-chunk/1",
                            [(0, None, {"sha256": m["sha256"], "offset": i * 2048,
                                        "data": binascii.b2a_base64(piece).decode().strip()})], None)
              for i in range(n)]
    job = update.Install(slots_host.FileSlots(d, len(image)), m)
    t0 = now_us()
    for env in sealed:
        body = envelope.open_envelope(env, DKEY, DIV, topic)[1][0][2]
        job.write(binascii.a2b_base64(body["data"]))
    job.finish()
    dt = (now_us() - t0) / 1e6
    return {"pieces_per_s": n / dt, "kb_per_s": len(image) / 1024 / dt}


class SimClock:
    def __init__(self):
        self.t = 0

    def ticks(self):
        return self.t

    def now_ms(self):
        return 1764072000000 + self.t

    def uptime_s(self):
        return self.t // 1000

    def sync_ntp(self, host):
        return False


class SimUart:
    """The monitor at 4 Hz: HR1, HR2, UA and FM frames every 250 ms of simulated time."""

    def __init__(self, clock):
        self.clock, self.next_at, self.n = clock, 0, 0

    def read(self, max_n, timeout_ms):
        if self.clock.t < self.next_at:
            return b""
        self.next_at += FRAME_EVERY_MS
        self.n += 1
        return (corometrics.build_frame(corometrics.RT_HR1, b"%d" % (120 + self.n % 40))
                + corometrics.build_frame(corometrics.RT_HR2, b"00")
                + corometrics.build_frame(corometrics.RT_UA, b"%d" % (self.n % 90 + 10))
                + corometrics.build_frame(corometrics.RT_FM, b"0"))


class Dog:
    def feed(self):
        return None


class Cfg:
    device_id, kind, firmware = DEV, "bridge", "bench"
    uplink_key, uplink_iv, downlink_key, downlink_iv = KEY, IV, DKEY, DIV


def bench_heap(d, backlog, seconds):
    from fakebroker import FakeBroker

    ctrs = counters.Counters(d + "/ctr")
    box = outbox.Outbox(d + "/q", ctrs)
    for i in range(backlog):  # ten minutes of 1-s batches waiting on flash
        box.add("ctg", "ctg/1", ctg_body(i), 1764072000000 + i * 1000)
    clock = SimClock()
    brokers = []

    def opener():
        brokers.append(FakeBroker())
        return brokers[-1]

    session = robust.Robust(mqtt.Client(DEV), opener, clock=clock.ticks)
    lnk = link.Link(Cfg(), box, ctrs, session, clock, window=4, batch_max=10)
    bridge = CtgBridge(SimUart(clock), corometrics.Decoder(), box, lnk, clock, Dog())
    ack_counter = 0
    gc.collect()
    base = gc.mem_alloc()  # code and module globals (frozen into flash on a real ESP32)
    if hasattr(gc, "threshold"):
        gc.threshold(GC_THRESHOLD)  # collect often, so peak_alloc is live data plus at most this much garbage
    peak_alloc = peak_live = 0
    steps = seconds * 1000 // STEP_MS
    for step in range(steps):
        bridge.step()
        clock.t += STEP_MS
        peak_alloc = max(peak_alloc, gc.mem_alloc())
        if brokers and step % 10 == 0:  # the hub acknowledges what reached the broker
            b = brokers[-1]
            ids = []
            for t, payload, _, _ in b.published:
                if t.endswith("/ctg"):
                    ids += [r[0] for r in envelope.open_envelope(payload, KEY, IV, t)[1]]
            b.published = []
            if ids:
                ack_counter += 1
                at = link.topic(DEV, "ack")
                b.push(at, envelope.seal(DKEY, DIV, "hub", at, ack_counter, "ack/1",
                                         [(0, None, {"ok": ids, "held": []})]))
        if step % 100 == 0:
            gc.collect()
            peak_live = max(peak_live, gc.mem_alloc())
    return {"peak_alloc_kb": peak_alloc / 1024, "peak_live_kb": peak_live / 1024, "baseline_kb": base / 1024,
            "working_kb": (peak_alloc - base) / 1024,
            "sent": lnk.stats["records"], "acked": lnk.stats["acked"], "depth_end": box.depth(),
            "batches": bridge.batches}


def main(argv):
    mode = argv[1]
    if mode == "seal":
        out = bench_seal(int(argv[2]))
    elif mode == "outbox":
        out = bench_outbox(argv[2], int(argv[3]))
    elif mode == "verify":
        out = bench_verify(int(argv[2]))
    elif mode == "pieces":
        out = bench_pieces(argv[2], int(argv[3]))
    else:
        out = bench_heap(argv[2], int(argv[3]), int(argv[4]))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
