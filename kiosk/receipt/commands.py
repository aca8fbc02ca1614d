"""ESC/POS constants we emit or parse beyond python-escpos, and DLE EOT status parsing (pure)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from escpos.constants import DLE, ESC, FS, GS

from kiosk.errors import PrinterError

DEVICE = "receipt"
EOT = b"\x04"
LF = b"\n"
FS_CN_ON = FS + b"&"  # FS & : enter double-byte (Chinese) character mode
FS_CN_OFF = FS + b"."  # FS . : leave double-byte mode
ESC_INIT = ESC + b"@"
CN_ENCODING = "gb18030"
CN_REPLACEMENT = "？"  # U+FF1F: printed for characters the printer's font cannot hold (4-byte GB18030)


class StatusQuery(enum.IntEnum):
    """DLE EOT n real-time status requests."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


def status_request(query: StatusQuery) -> bytes:
    return DLE + EOT + bytes((query,))


STATUS_FIXED_MASK = 0x93  # bits 0, 1, 4, 7 are fixed in every DLE EOT answer ...
STATUS_FIXED_VALUE = 0x12  # ... as 0, 1, 1, 0
PRINTER_OFFLINE = 0x08
PRINTER_FEED_BUTTON = 0x40
OFFLINE_COVER_OPEN = 0x04
OFFLINE_PAPER_END_STOP = 0x20
OFFLINE_ERROR = 0x40
ERROR_AUTOCUTTER = 0x08
ERROR_UNRECOVERABLE = 0x20
ERROR_AUTO_RECOVERABLE = 0x40
PAPER_NEAR_END = 0x0C
PAPER_END = 0x60
GS_SIZE = GS + b"!"
_ASCII_RUNS = re.compile(r"([ -~\n]+)")


class PaperLevel(enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    cover_open: bool
    paper: PaperLevel
    cutter_error: bool
    unrecoverable_error: bool

    @property
    def can_print(self) -> bool:
        return (self.online and not self.cover_open and self.paper is not PaperLevel.OUT
                and not self.cutter_error and not self.unrecoverable_error)

    def describe(self) -> str:
        problems = [name for name, bad in (
            ("offline", not self.online), ("cover open", self.cover_open),
            ("paper out", self.paper is PaperLevel.OUT), ("paper near end", self.paper is PaperLevel.NEAR_END),
            ("cutter error", self.cutter_error), ("unrecoverable error", self.unrecoverable_error)) if bad]
        return ", ".join(problems) or "ready"


def check_status_byte(value: int, query: StatusQuery) -> int:
    if not 0 <= value <= 0xFF or value & STATUS_FIXED_MASK != STATUS_FIXED_VALUE:
        raise PrinterError(DEVICE, f"invalid DLE EOT {int(query)} answer 0x{value:02X}")
    return value


def parse_status(printer: int, offline: int, error: int, paper: int) -> PrinterStatus:
    """The four DLE EOT answers (n = 1, 2, 3, 4) -> status; PrinterError on a malformed byte."""
    printer = check_status_byte(printer, StatusQuery.PRINTER)
    offline = check_status_byte(offline, StatusQuery.OFFLINE_CAUSE)
    error = check_status_byte(error, StatusQuery.ERROR_CAUSE)
    paper = check_status_byte(paper, StatusQuery.PAPER)
    level = PaperLevel.OUT if paper & PAPER_END else (
        PaperLevel.NEAR_END if paper & PAPER_NEAR_END else PaperLevel.OK)
    return PrinterStatus(
        online=not printer & PRINTER_OFFLINE, cover_open=bool(offline & OFFLINE_COVER_OPEN), paper=level,
        cutter_error=bool(error & ERROR_AUTOCUTTER), unrecoverable_error=bool(error & ERROR_UNRECOVERABLE))


def encode_status(status: PrinterStatus) -> tuple[int, int, int, int]:
    """Device side (simulators): the four answer bytes for ``status``."""
    paper = STATUS_FIXED_VALUE | {PaperLevel.OK: 0, PaperLevel.NEAR_END: PAPER_NEAR_END,
                                  PaperLevel.OUT: PAPER_NEAR_END | PAPER_END}[status.paper]
    offline_any = not status.online or status.cover_open or status.paper is PaperLevel.OUT
    return (
        STATUS_FIXED_VALUE | (PRINTER_OFFLINE if offline_any else 0),
        STATUS_FIXED_VALUE | (OFFLINE_COVER_OPEN if status.cover_open else 0)
        | (OFFLINE_PAPER_END_STOP if status.paper is PaperLevel.OUT else 0)
        | (OFFLINE_ERROR if status.cutter_error or status.unrecoverable_error else 0),
        STATUS_FIXED_VALUE | (ERROR_AUTOCUTTER if status.cutter_error else 0)
        | (ERROR_UNRECOVERABLE if status.unrecoverable_error else 0),
        paper,
    )


def encode_text(text: str, *, four_byte_ok: bool = False) -> bytes:
    """Text -> bytes: ASCII as is, other runs as ``FS &`` + GB18030 + ``FS .``.

    python-escpos 3.1 sends GB18030 without ``FS &`` and only when a U+4E00-U+9FA5 character is
    present (so ``￥`` or full-width punctuation alone comes out as ``?``); this covers every
    character.  Characters that need 4 GB18030 bytes print as CN_REPLACEMENT unless the printer
    has a full GB18030 font (``four_byte_ok``).  Control characters other than LF are dropped.
    """
    out = bytearray()
    for index, run in enumerate(_ASCII_RUNS.split(text)):
        if index % 2:  # the capturing group: printable ASCII and LF
            out += run.encode("ascii")
            continue
        run = "".join(ch for ch in run if ch.isprintable())
        if not run:
            continue
        encoded = run.encode(CN_ENCODING)
        if len(encoded) != 2 * len(run) and not four_byte_ok:  # some character needs 4 bytes
            encoded = "".join(ch if len(ch.encode(CN_ENCODING)) == 2 else CN_REPLACEMENT
                              for ch in run).encode(CN_ENCODING)
        out += FS_CN_ON + encoded + FS_CN_OFF
    return bytes(out)


def display_width(text: str) -> int:
    """Columns on the printer: ASCII 1, double-byte characters 2."""
    return sum(1 if " " <= ch <= "~" else 2 for ch in text)
