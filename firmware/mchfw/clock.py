"""Device time: unknown until an NTP (SNTP v4) answer; monotonic ticks always.

An answer counts only if it answers our request (RFC 4330 section 5): our transmit timestamp
is 8 random bytes, which the server must echo as its originate timestamp; mode 4 (server);
stratum 1-15 (0 is a kiss-o'-death, 16 unsynchronised); leap indicator not 3 (clock not
synchronised); a non-zero transmit time. Anything else on the socket is ignored (up to
NTP_MAX_DATAGRAMS), so a datagram spoofed by someone who did not see the request sets nothing.

`now_ms()` is unix time in ms, or None while unknown (records and envelopes are then stamped
with the counter only, per the contract). The wall clock is kept as an offset from ticks, so
it works the same on the ESP32 and the unix port without setting the system clock.
"""

import os
import struct
import time

NTP_PORT = 123
NTP_PACKET_LEN = 48
NTP_MODE_CLIENT = 0x23  # LI 0, version 4, mode 3
NTP_UNIX_DELTA_S = 2208988800
NTP_TIMEOUT_S = 2
NTP_MAX_DATAGRAMS = 4
ORIGIN_OFFSET = 24
TX_TIME_OFFSET = 40
MODE_MASK = 0x07
MODE_SERVER = 4
LI_ALARM = 3
STRATUM_MIN, STRATUM_MAX = 1, 15


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

        origin = os.urandom(8)
        request = bytes((NTP_MODE_CLIENT,)) + bytes(TX_TIME_OFFSET - 1) + origin
        try:
            addr = socket.getaddrinfo(host, port)[0][-1]
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.settimeout(NTP_TIMEOUT_S)
                s.sendto(request, addr)
                for _ in range(NTP_MAX_DATAGRAMS):
                    if self.apply_ntp(s.recv(NTP_PACKET_LEN * 2), origin):
                        return True
            finally:
                s.close()
        except OSError:
            return False
        return False

    def apply_ntp(self, data: bytes, origin: bytes) -> bool:
        """Set the clock from `data` if it is a server's answer to the request carrying `origin`."""
        if len(data) < NTP_PACKET_LEN or data[ORIGIN_OFFSET:ORIGIN_OFFSET + 8] != origin:
            return False
        if data[0] & MODE_MASK != MODE_SERVER or data[0] >> 6 == LI_ALARM:
            return False
        if not STRATUM_MIN <= data[1] <= STRATUM_MAX:
            return False
        secs, frac = struct.unpack(">II", data[TX_TIME_OFFSET:TX_TIME_OFFSET + 8])
        if secs < NTP_UNIX_DELTA_S:
            return False
        self.set_unix_ms((secs - NTP_UNIX_DELTA_S) * 1000 + (frac * 1000 >> 32))
        return True
