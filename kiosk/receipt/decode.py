"""Decode an ESC/POS byte stream back into text lines, QR contents and cuts (for tests/simulators).

Covers what our layout and python-escpos emit: text (ASCII, GB18030 in and out of ``FS &``
mode), LF, ``ESC @ ! E - a d t M G {``, ``GS ! V B b ( k``, ``FS & .``, ``DLE EOT n``.  Anything
else raises PrinterError naming the offset: a receipt we cannot read back is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.errors import PrinterError

DEVICE = "receipt"
ESC, GS, FS, DLE, LF, CR, HT = 0x1B, 0x1D, 0x1C, 0x10, 0x0A, 0x0D, 0x09
EOT = 0x04
QR_STORE_FN = 80  # GS ( k ... cn=49 fn=80: store data
QR_CODE_TYPE = 49
# number of parameter bytes after ESC x / GS x for the fixed-length commands we accept
ESC_ARGS = {ord("@"): 0, ord("!"): 1, ord("E"): 1, ord("-"): 1, ord("a"): 1, ord("d"): 1, ord("t"): 1,
            ord("M"): 1, ord("G"): 1, ord("{"): 1, ord("2"): 0, ord("3"): 1, ord("J"): 1}
GS_ARGS = {ord("!"): 1, ord("B"): 1, ord("b"): 1}
CUT_FULL, CUT_PART, CUT_FEED = 0x00, 0x01, 0x42
BOLD_CMD = ord("E")


@dataclass
class DecodedReceipt:
    lines: list[str] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    cuts: int = 0
    bold_lines: list[str] = field(default_factory=list)
    status_queries: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.out = DecodedReceipt()
        self.line = bytearray()
        self.bold = False
        self.line_bold = False

    def fail(self, what: str) -> PrinterError:
        return PrinterError(DEVICE, f"cannot decode ESC/POS at offset {self.pos}: {what}")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail("truncated command")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def end_line(self) -> None:
        try:
            text = self.line.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise self.fail("text is not GB18030") from exc
        self.out.lines.append(text)
        if self.line_bold and text:
            self.out.bold_lines.append(text)
        self.line.clear()
        self.line_bold = False

    def run(self) -> DecodedReceipt:
        while self.pos < len(self.data):
            byte = self.take(1)[0]
            if byte == LF:
                self.end_line()
            elif byte in (CR, HT) or byte >= 0x20:
                self.line.extend(b" " if byte == HT else b"" if byte == CR else bytes((byte,)))
                self.line_bold = self.line_bold or self.bold
            elif byte == ESC:
                self.esc()
            elif byte == GS:
                self.gs()
            elif byte == FS:
                if self.take(1) not in (b"&", b"."):
                    raise self.fail("unknown FS command")
            elif byte == DLE:
                if self.take(1)[0] != EOT:
                    raise self.fail("unknown DLE command")
                self.out.status_queries.append(self.take(1)[0])
            else:
                raise self.fail(f"control byte 0x{byte:02X}")
        if self.line:
            self.end_line()
        return self.out

    def esc(self) -> None:
        cmd = self.take(1)[0]
        if cmd not in ESC_ARGS:
            raise self.fail(f"unknown ESC 0x{cmd:02X}")
        args = self.take(ESC_ARGS[cmd])
        if cmd == BOLD_CMD:
            self.bold = bool(args[0] & 1)
        elif cmd == ord("@"):
            self.bold = False
        elif cmd == ord("d"):
            for _ in range(args[0]):
                self.end_line()

    def gs(self) -> None:
        cmd = self.take(1)[0]
        if cmd in GS_ARGS:
            self.take(GS_ARGS[cmd])
        elif cmd == ord("V"):
            mode = self.take(1)[0]
            if mode == CUT_FEED:
                self.take(1)
            elif mode not in (CUT_FULL, CUT_PART):
                raise self.fail("unknown cut mode")
            self.out.cuts += 1
        elif cmd == ord("("):
            if self.take(1) != b"k":
                raise self.fail("unknown GS ( function")
            low, high = self.take(2)
            body = self.take(low + 256 * high)
            if len(body) >= 3 and body[0] == QR_CODE_TYPE and body[1] == QR_STORE_FN:
                try:
                    self.out.qr_codes.append(body[3:].decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise self.fail("QR data is not UTF-8") from exc
        else:
            raise self.fail(f"unknown GS 0x{cmd:02X}")


def decode(data: bytes) -> DecodedReceipt:
    """ESC/POS bytes -> lines, QR codes, cuts; PrinterError on anything unknown."""
    return _Decoder(data).run()
