"""Printing: a receipt (ESC/POS) for each booking and payment, and the A4 report of her record
and visit schedule (reportlab PDF through CUPS). Personal data is masked on paper; the PDF is
written to a private temporary directory and deleted after the job."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiosk.a4printer.pdf import render_report
from kiosk.errors import KioskDeviceError
from kiosk.flows import pregnancy as preg
from kiosk.flows.devices import A4Sink, ReceiptSink
from kiosk.flows.messages import Notice
from kiosk.flows.schedule import schedule_rows
from kiosk.flows.screening import default_rules
from kiosk.flows.session import Session
from kiosk.receipt.layout import Receipt, mask_name
from kiosk.receipt.visit_receipts import booking_receipt, payment_receipt

REPORT_TITLE = "孕产妇自助建档报告"
REPORT_FOOTER = "本报告由自助终端打印，风险分级以医生评估为准。"
BOOKING_STATUS = {"held": "待缴费", "paid": "已缴费", "released": "已取消"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Printed:
    ok: bool
    notice: Notice


def print_booking(printer: ReceiptSink, session: Session, hospital: str, now: dt.datetime) -> Printed:
    booking, patient = session.booking, session.patient
    if booking is None or patient is None:
        raise ValueError("nothing booked")
    receipt = booking_receipt(hospital=hospital, patient_name=patient.name, booking_id=booking.booking_id,
                              visit_code=booking.slot.visit_code, clinic=booking.slot.clinic,
                              starts_at=booking.slot.starts_at, fee_fen=booking.fee_fen,
                              hold_until=booking.hold_until if booking.status == "held" else None, time=now)
    return _print_receipt(printer, receipt)


def print_payment(printer: ReceiptSink, session: Session, hospital: str, now: dt.datetime) -> Printed:
    booking, patient, payment, card = session.booking, session.patient, session.payment, session.bank_card
    if booking is None or patient is None or payment is None or card is None or payment.outcome != "approved":
        raise ValueError("no approved payment")
    receipt = payment_receipt(hospital=hospital, patient_name=patient.name, booking_id=booking.booking_id,
                              payment_id=payment.payment_id, auth_code=payment.auth_code,
                              masked_pan=card.masked_pan, clinic=booking.slot.clinic,
                              starts_at=booking.slot.starts_at, amount_fen=payment.amount_fen, time=now)
    return _print_receipt(printer, receipt)


def _print_receipt(printer: ReceiptSink, receipt: Receipt) -> Printed:
    try:
        printer.print_receipt(receipt)
    except KioskDeviceError as exc:
        log.warning("receipt not printed: %s", exc.message)
        return Printed(False, Notice("receipt_failed", {"reason": exc.message}))
    return Printed(True, Notice("printed"))


def report_rows(session: Session, today: dt.date) -> list[tuple[str, str]]:
    """The A4 report's lines: masked identity, record summary, booked visit, the visit schedule."""
    patient, record = session.patient, session.record
    if patient is None:
        raise ValueError("no patient")
    rows = [("姓名", mask_name(patient.name)), ("证件号", patient.masked_id_number), ("门诊号", patient.outpatient_no)]
    if record is not None:
        ga_today = preg.gestational_age_days(record.lmp, today)
        rows += [("末次月经", record.lmp.isoformat()), ("预产期", record.edd.isoformat()),
                 ("孕周（今日）", preg.format_ga(ga_today)), ("孕前 BMI", f"{record.bmi:.1f}"),
                 ("自助筛查", "有需关注项目，请尽快由医生评估分级" if record.screen_positive
                  else "未见阳性项目（风险分级由医生评定）")]
        rows += [(f"需关注项目 {item}", text) for item, text in _positive_item_texts(record.positive_items)]
    if session.booking is not None:
        slot = session.booking.slot
        paid = session.payment is not None and session.payment.outcome == "approved"
        status = "已缴费" if paid else BOOKING_STATUS.get(session.booking.status, session.booking.status)
        rows.append(("已预约", f"{slot.clinic} {slot.starts_at:%Y-%m-%d %H:%M}（{status}）"))
    if record is not None:
        rows.append(("产前检查安排", "（国家基本公共卫生服务规范，至少 5 次）"))
        rows += schedule_rows(record.lmp, today)
    return rows


def _positive_item_texts(items: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each positive item with what it means for the doctor (the measured rule, or her question answered yes)."""
    rules = default_rules()
    texts = {d.item_id: d.zh for d in rules.derived} | {q.item_id: f"{q.zh} 是" for q in rules.questions}
    return [(item, texts.get(item, "")) for item in items]


def print_report(printer: A4Sink, session: Session, today: dt.date) -> Printed:
    try:
        pdf = render_report(REPORT_TITLE, report_rows(session, today), footer=REPORT_FOOTER)
        with tempfile.TemporaryDirectory(prefix="mch-report-") as tmp:  # 0700, removed with the PDF
            path = Path(tmp) / "report.pdf"
            path.write_bytes(pdf)
            printer.print_pdf(path, REPORT_TITLE)
    except KioskDeviceError as exc:
        log.warning("A4 report not printed: %s", exc.message)
        return Printed(False, Notice("report_failed", {"reason": exc.message}))
    return Printed(True, Notice("report_printed"))
