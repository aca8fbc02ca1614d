"""Receipt layout (registration / payment receipt): pure, renders onto any python-escpos printer.

Personal data arrives masked or is masked here: the patient name keeps its first (and last)
character, the card number must already be masked (``6222********1234``), never a full PAN.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from escpos.escpos import Escpos
from escpos.printer import Dummy

from kiosk.receipt.commands import ESC_INIT, display_width, encode_text

MASKED_PAN = re.compile(r"^\d{4,6}\*{4,9}\d{4}$")
TXN_ID = re.compile(r"^[A-Za-z0-9-]{4,40}$")
WIDTH_58MM = 32  # columns of font A on 58 mm paper
WIDTH_80MM = 48
QR_SIZE = 6  # module size in dots
QR_URL_PREFIX = "TXN:"
MASK_CHAR = "*"
FEN_PER_YUAN = 100
TITLE_REGISTRATION = "挂号凭条"
TITLE_PAYMENT = "缴费凭条"
FOOTER = "请妥善保管此凭条"
LABEL_PATIENT = "患者"
LABEL_CARD = "银行卡"
LABEL_TOTAL = "合计"
LABEL_TIME = "时间"
LABEL_TXN = "流水号"
YUAN = "元"
LABEL_DEPARTMENT = "科室"
LABEL_DOCTOR = "医生"
LABEL_QUEUE = "就诊序号"
ITEM_REGISTRATION_FEE = "挂号费"


def mask_name(name: str) -> str:
    """张三 -> 张*, 王小明 -> 王*明, 欧阳娜娜 -> 欧**娜."""
    if len(name) <= 1:
        return MASK_CHAR * len(name)
    if len(name) == 2:
        return name[0] + MASK_CHAR
    return name[0] + MASK_CHAR * (len(name) - 2) + name[-1]


def format_fen(amount_fen: int) -> str:
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{yuan}.{fen:02d}"


@dataclass(frozen=True)
class Item:
    name: str
    amount_fen: int


@dataclass(frozen=True)
class Receipt:
    hospital: str
    title: str
    patient_name: str  # stored masked: __post_init__ masks whatever is given
    items: tuple[Item, ...]
    masked_pan: str | None
    txn_id: str
    time: dt.datetime
    width: int = WIDTH_58MM
    extra_lines: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if MASK_CHAR not in self.patient_name:
            object.__setattr__(self, "patient_name", mask_name(self.patient_name))
        if self.masked_pan is not None and not MASKED_PAN.match(self.masked_pan):
            raise ValueError("card number must be masked like 6222********1234")
        if not TXN_ID.match(self.txn_id):
            raise ValueError("transaction id must be 4-40 letters, digits or '-'")
        if not self.items:
            raise ValueError("a receipt needs at least one item")

    @property
    def total_fen(self) -> int:
        return sum(item.amount_fen for item in self.items)


def two_columns(left: str, right: str, width: int) -> str:
    gap = max(width - display_width(left) - display_width(right), 1)
    return left + " " * gap + right


def body_lines(receipt: Receipt) -> list[str]:
    """The plain text lines of the receipt body (also the benchmark's baseline)."""
    w = receipt.width
    lines = [f"{LABEL_PATIENT}: {receipt.patient_name}"]
    if receipt.masked_pan:
        lines.append(f"{LABEL_CARD}: {receipt.masked_pan}")
    lines.append("-" * w)
    lines += [two_columns(item.name, format_fen(item.amount_fen) + YUAN, w) for item in receipt.items]
    lines.append("-" * w)
    lines.append(two_columns(LABEL_TOTAL, format_fen(receipt.total_fen) + YUAN, w))
    lines.append(f"{LABEL_TIME}: {receipt.time:%Y-%m-%d %H:%M:%S}")
    lines.append(f"{LABEL_TXN}: {receipt.txn_id}")
    lines += list(receipt.extra_lines)
    return lines


def render(receipt: Receipt, printer: Escpos) -> None:
    """Issue the receipt onto ``printer`` (any python-escpos backend)."""
    printer._raw(ESC_INIT)
    printer.set(align="center", bold=True, double_height=True, double_width=True)
    printer._raw(encode_text(receipt.hospital + "\n"))
    printer.set(normal_textsize=True, bold=True)
    printer._raw(encode_text(receipt.title + "\n"))
    printer.set(align="left", bold=False)
    printer._raw(encode_text("\n".join(body_lines(receipt)) + "\n"))
    printer.set(align="center")
    printer.qr(QR_URL_PREFIX + receipt.txn_id, size=QR_SIZE, native=True)
    printer._raw(encode_text(FOOTER + "\n"))
    printer.set(align="left")
    printer.cut()


def render_bytes(receipt: Receipt) -> bytes:
    """The exact ESC/POS bytes of ``receipt``."""
    dummy = Dummy()
    render(receipt, dummy)
    return dummy.output


def registration_receipt(*, hospital: str, patient_name: str, department: str, doctor: str, queue_no: int,
                         fee_fen: int, txn_id: str, time: dt.datetime, masked_pan: str | None = None,
                         width: int = WIDTH_58MM) -> Receipt:
    """挂号凭条: registration fee item plus department, doctor and queue number lines."""
    return Receipt(hospital=hospital, title=TITLE_REGISTRATION, patient_name=patient_name,
                   items=(Item(ITEM_REGISTRATION_FEE, fee_fen),), masked_pan=masked_pan, txn_id=txn_id,
                   time=time, width=width,
                   extra_lines=(f"{LABEL_DEPARTMENT}: {department}", f"{LABEL_DOCTOR}: {doctor}",
                                f"{LABEL_QUEUE}: {queue_no}"))
