"""CTG bridge: monitor UART -> Corometrics decoder -> 1-s batches -> flash outbox -> link.

One loop, nothing blocks longer than a UART poll (UART_POLL_MS) or an MQTT deadline: each
turn reads the UART, decodes, closes the batch of the current second, services the link
(reconnect, send, acks, heartbeats), feeds the watchdog and re-syncs NTP now and then.
Samples keep flowing into the outbox while Wi-Fi or the broker is away.
"""

from mchfw import clock as ticks
from mchfw import corometrics as cm

CTG_KIND = "ctg"
CTG_SCHEMA = "bridge-ctg/1"  # mch_link/schemas/bridge-ctg-1.json
SIM_SCHEMA = "sim/1"  # the hub's load-generator schema: FHR1 and TOCO only, penlift as 0
SIM_MAX_ITEMS = 16
BATCH_MS = 1000
UART_POLL_MS = 20
UART_READ_MAX = 256
NTP_RESYNC_MS = 3600 * 1000
NTP_RETRY_MS = 60 * 1000


class Batch:
    """One second of monitor data; lists hold the values in arrival order (None = penlift)."""

    def __init__(self) -> None:
        self.hr1: list = []
        self.hr2: list = []
        self.toco: list = []
        self.fm: list = []
        self.marks = 0
        self.paper_out: bool | None = None
        self.modes: str | None = None

    def add(self, ev) -> None:
        kind = ev[0]
        if kind == cm.EV_HR:
            (self.hr1 if ev[1] == 1 else self.hr2).append(ev[2])
        elif kind == cm.EV_UA:
            self.toco.append(ev[1])
        elif kind == cm.EV_FM:
            self.fm.append(ev[1])
        elif kind == cm.EV_MARK:
            self.marks += 1
        elif kind == cm.EV_PAPER:
            self.paper_out = ev[1]
        elif kind == cm.EV_MODES:
            self.modes = ev[1] + ev[2]

    def empty(self) -> bool:
        return not (self.hr1 or self.hr2 or self.toco or self.fm or self.marks or self.modes)

    def body_for(self, schema: str, seq: int) -> dict:
        if schema == SIM_SCHEMA:
            return {"seq": seq, "fhr_bpm": [v or 0 for v in self.hr1][:SIM_MAX_ITEMS],
                    "toco": [v or 0 for v in self.toco][:SIM_MAX_ITEMS]}
        return self.body(seq)

    def body(self, seq: int) -> dict:
        b = {"seq": seq, "hr1_bpm": self.hr1, "hr2_bpm": self.hr2, "toco": self.toco}
        if self.fm:
            b["fm"] = self.fm
        if self.marks:
            b["marks"] = self.marks
        if self.modes is not None:
            b["modes"] = self.modes
        if self.paper_out is not None:
            b["paper_out"] = self.paper_out
        return b


class CtgBridge:
    def __init__(self, uart, decoder, outbox, link, clock, watchdog, wifi=None, ntp_host: str = "",
                 schema: str = CTG_SCHEMA) -> None:
        self.uart, self.decoder, self.outbox, self.link = uart, decoder, outbox, link
        self.clock, self.watchdog, self.wifi = clock, watchdog, wifi
        self.ntp_host, self.schema = ntp_host, schema
        self.batch = Batch()
        self.batch_start = clock.ticks()
        self.seq = 0
        self.next_ntp = clock.ticks()
        self.batches = 0
        self.trace: object = None  # optional fn(text): one line per committed record (unix-port tests)
        self.cut_before_commit_at = 0  # fault injection: power cut while appending batch N
        self.on_healthy: object = None  # called once, when the hub first acknowledges (confirms an update)
        self.on_step: object = None  # called every turn (app.py: update health window, pending reset)

    def step(self) -> None:
        data = self.uart.read(UART_READ_MAX, UART_POLL_MS)
        if data:
            for ev in self.decoder.feed(data):
                self.batch.add(ev)
        now = self.clock.ticks()
        if ticks.diff(now, self.batch_start) >= BATCH_MS:
            self.flush()
            self.batch_start = now
        if self.wifi is None or self.wifi.isconnected():
            self.link.service(0)
            if self.ntp_host and ticks.diff(now, self.next_ntp) >= 0:
                ok = self.clock.sync_ntp(self.ntp_host)
                self.next_ntp = ticks.add(now, NTP_RESYNC_MS if ok else NTP_RETRY_MS)
        elif self.link.robust.connected:
            self.link.robust.drop(OSError("wifi lost"))
        if self.on_healthy is not None and self.link.stats["acked"]:
            healthy, self.on_healthy = self.on_healthy, None
            healthy()  # type: ignore[operator]
        if self.on_step is not None:
            self.on_step()  # type: ignore[operator]
        self.watchdog.feed()

    def flush(self) -> None:
        """Commit the current second to the outbox (stamped by clock, or by seq when unknown)."""
        if self.batch.empty():
            return
        self.seq += 1
        if self.cut_before_commit_at and self.batches + 1 == self.cut_before_commit_at:
            self.outbox.fault_before_commit = True
        msg_id = self.outbox.add(CTG_KIND, self.schema, self.batch.body_for(self.schema, self.seq),
                                 self.clock.now_ms())
        self.batches += 1
        if self.trace is not None:
            self.trace(f"commit {msg_id}")  # type: ignore[operator]
        self.batch = Batch()

    def run(self, stop_after_ms: int = 0) -> None:
        start = self.clock.ticks()
        while not stop_after_ms or ticks.diff(self.clock.ticks(), start) < stop_after_ms:
            self.step()
