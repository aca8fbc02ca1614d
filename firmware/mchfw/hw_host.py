"""Host board for the unix port and CPython: same interface as hw_esp32, host resources.

UART = a serial device path (a pseudo-terminal in tests) in raw mode with non-blocking reads;
GPIO = one file per pin under <state>/gpio ("0"/"1"); watchdog = a feed counter in <state>/wdt;
Wi-Fi = up unless <state>/wifi_down exists; flash = <state>/flash; update slots = files.
"""

import os
import select

from mchfw import fsutil, slots_host

TERMIOS_CC = 6
VMIN = 6
VTIME = 5
WIFI_DOWN_FILE = "wifi_down"
WDT_FILE = "wdt"


def _raw_nonblocking(fd: int) -> None:
    import termios  # type: ignore[import-not-found]  # unix only

    if hasattr(termios, "setraw"):  # MicroPython's termios
        termios.setraw(fd)
    else:  # CPython
        import tty  # type: ignore[import-not-found]

        tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[TERMIOS_CC][VMIN] = 0
    attrs[TERMIOS_CC][VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class Uart:
    """A tty in raw mode, VMIN=0/VTIME=0, so a read returns what is there; waits use poll."""

    def __init__(self, path: str, baud: int) -> None:
        self.path, self.baud = path, baud
        self.tty = True
        self._f = open(path, "r+b")
        fd = self._f.fileno()
        try:
            _raw_nonblocking(fd)
        except Exception:  # noqa: BLE001 - not a tty (a plain file in tests): nothing to configure
            self.tty = False
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)

    def read(self, max_n: int, timeout_ms: int) -> bytes:
        if not self._poll.poll(timeout_ms):
            return b""
        return self._f.read(max_n) or b""

    def write(self, data: bytes) -> int:
        n = self._f.write(data)
        return n if n is not None else len(data)

    def close(self) -> None:
        self._f.close()


class FilePin:
    def __init__(self, path: str, initial=None) -> None:
        self.path = path
        if initial is not None:
            self.value(initial)

    def value(self, v=None):
        if v is None:
            try:
                with open(self.path) as f:
                    return 1 if f.read(1) == "1" else 0
            except OSError:
                return 0
        fsutil.write_atomic(self.path, b"1" if v else b"0")
        return None


class Watchdog:
    """Counts feeds in a file, so a test can see the bridge keeps feeding."""

    def __init__(self, path: str, timeout_ms: int) -> None:
        self.path, self.timeout_ms, self.feeds = path, timeout_ms, 0

    def feed(self) -> None:
        self.feeds += 1
        fsutil.write_atomic(self.path, str(self.feeds).encode())


class Wifi:
    def __init__(self, down_flag: str) -> None:
        self.down_flag = down_flag

    def connect(self, ssid: str, psk: str) -> None:
        return None

    def isconnected(self) -> bool:
        return not fsutil.exists(self.down_flag)


class Board:
    def __init__(self, state_dir: str, uart_path: str = "", slot_size: int = 256 * 1024) -> None:
        self.state_dir = state_dir
        self.flash_root = state_dir + "/flash"
        self.uart_path = uart_path
        self.slot_size = slot_size
        for d in (state_dir, self.flash_root, state_dir + "/gpio"):
            fsutil.makedirs(d)

    def uart(self, port=None, baud: int = 9600) -> Uart:
        return Uart(port if isinstance(port, str) else self.uart_path, baud)

    def pin_in(self, name: str) -> FilePin:
        return FilePin(self.state_dir + "/gpio/" + name)

    def pin_out(self, name: str, initial: int = 0) -> FilePin:
        return FilePin(self.state_dir + "/gpio/" + name, initial)

    def watchdog(self, timeout_ms: int) -> Watchdog:
        return Watchdog(self.state_dir + "/" + WDT_FILE, timeout_ms)

    def wifi(self) -> Wifi:
        return Wifi(self.state_dir + "/" + WIFI_DOWN_FILE)

    def slots(self):
        return slots_host.FileSlots(self.state_dir + "/slots", self.slot_size)

    def secure_version(self):
        """No hardware monotonic store on a host: None. The file floor (fwfloor.py) still refuses older
        images after a forced boot, but whoever rewrites this directory rewrites the floor too."""
        return None

    def tls_wrap(self, sock, ctx, server_hostname: str):
        from mchfw import hw

        return hw.tls_wrap(sock, ctx, server_hostname)

    def reset(self) -> None:
        raise SystemExit(0)

    def free_bytes(self) -> int:
        st = os.statvfs(self.flash_root)
        return st[0] * st[4]
