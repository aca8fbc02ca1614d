"""Device time: unknown until an NTP (SNTP v4) answer; monotonic ticks always.

`now_ms()` is unix time in ms, or None while unknown (records and envelopes are then stamped
with the counter only, per the contract). The wall clock is kept as an offset from ticks, so
it works the same on the ESP32 and the unix port without setting the system clock.
"""

import struct
import time

NTP_PORT = 123
NTP_PACKET_LEN = 48
NTP_MODE_CLIENT = 0x1B  # LI 0, version 3, mode 3
NTP_UNIX_DELTA_S = 2208988800
NTP_TIMEOUT_S = 2
TX_TIME_OFFSET = 40


REBASE_MS = 3600 * 1000  # re-anchor long spans well inside half the ticks period (~6 days)


def ticks_ms() -> int:
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.monotonic() * 1000)  # type: ignore[attr-defined,return-value]


def diff(a: int, b: int) -> int:
    """a - b in ms, right across the wrap of ticks_ms (every 2**30 ms on MicroPython ports)."""
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(a, b)  # type: ignore[attr-defined,no-any-return]
    return a - b


def add(a: int, delta: int) -> int:
    if hasattr(time, "ticks_add"):
        return time.ticks_add(a, delta)  # type: ignore[attr-defined,no-any-return,type-var]
    return a + delta


class Clock:
    def __init__(self) -> None:
        self.up_ms = 0
        self.up_ticks = ticks_ms()
        self.base_ms: int | None = None  # unix ms at base_ticks
        self.base_ticks = 0

    def ticks(self) -> int:
        return ticks_ms()

    def uptime_s(self) -> int:
        now = ticks_ms()
        self.up_ms += diff(now, self.up_ticks)
        self.up_ticks = now
        return self.up_ms // 1000

    def known(self) -> bool:
        return self.base_ms is not None

    def now_ms(self):
        if self.base_ms is None:
            return None
        now = ticks_ms()
        elapsed = diff(now, self.base_ticks)
        if elapsed > REBASE_MS:
            self.base_ms += elapsed
            self.base_ticks = now
            elapsed = 0
        return self.base_ms + elapsed

    def set_unix_ms(self, unix_ms: int) -> None:
        self.base_ms = unix_ms
        self.base_ticks = ticks_ms()

    def sync_ntp(self, host: str, port: int = NTP_PORT) -> bool:
        """One SNTP request; True if the clock was set. Never raises on network trouble."""
        import socket

        try:
            addr = socket.getaddrinfo(host, port)[0][-1]
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.settimeout(NTP_TIMEOUT_S)
                s.sendto(bytes((NTP_MODE_CLIENT,)) + bytes(NTP_PACKET_LEN - 1), addr)
                data = s.recv(NTP_PACKET_LEN)
            finally:
                s.close()
        except OSError:
            return False
        return self.apply_ntp(data)

    def apply_ntp(self, data: bytes) -> bool:
        if len(data) < NTP_PACKET_LEN:
            return False
        secs, frac = struct.unpack(">II", data[TX_TIME_OFFSET:TX_TIME_OFFSET + 8])
        if secs < NTP_UNIX_DELTA_S:
            return False
        self.set_unix_ms((secs - NTP_UNIX_DELTA_S) * 1000 + (frac * 1000 >> 32))
        return True
