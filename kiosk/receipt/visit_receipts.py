"""Receipts of the patient's visit: the booking slip (预约凭条) and the payment slip (缴费凭条),
both with a QR code of the booking so the clinic desk can scan her in. Built on `layout.Receipt`
(which masks the name and accepts only a masked card number)."""

from __future__ import annotations

import datetime as dt

from kiosk.receipt.layout import TITLE_PAYMENT, WIDTH_58MM, Item, Receipt

TITLE_BOOKING = "预约凭条"
LABEL_CLINIC = "诊室"
LABEL_VISIT_TIME = "就诊时间"
LABEL_VISIT = "产检"
LABEL_PAYMENT_ID = "支付流水"
LABEL_AUTH = "授权号"
LABEL_PAY_BEFORE = "请于此时间前缴费"
ITEM_ANTENATAL_FEE = "产检费"
TIME_FORMAT = "%Y-%m-%d %H:%M"


def booking_receipt(*, hospital: str, patient_name: str, booking_id: str, visit_code: str, clinic: str,
                    starts_at: dt.datetime, fee_fen: int, hold_until: dt.datetime | None, time: dt.datetime,
                    width: int = WIDTH_58MM) -> Receipt:
    """The QR carries the booking id (``TXN:<booking_id>``)."""
    extra = [f"{LABEL_VISIT}: {visit_code}", f"{LABEL_CLINIC}: {clinic}",
             f"{LABEL_VISIT_TIME}: {starts_at:{TIME_FORMAT}}"]
    if hold_until is not None:
        extra.append(f"{LABEL_PAY_BEFORE}: {hold_until:{TIME_FORMAT}}")
    return Receipt(hospital=hospital, title=TITLE_BOOKING, patient_name=patient_name,
                   items=(Item(ITEM_ANTENATAL_FEE, fee_fen),), masked_pan=None, txn_id=booking_id, time=time,
                   width=width, extra_lines=tuple(extra))


def payment_receipt(*, hospital: str, patient_name: str, booking_id: str, payment_id: str, auth_code: str | None,
                    masked_pan: str, clinic: str, starts_at: dt.datetime, amount_fen: int, time: dt.datetime,
                    width: int = WIDTH_58MM) -> Receipt:
    """Paid slip: the QR carries the booking id too; the payment id and authorisation are printed."""
    extra = (f"{LABEL_PAYMENT_ID}: {payment_id}", f"{LABEL_AUTH}: {auth_code or '-'}",
             f"{LABEL_CLINIC}: {clinic}", f"{LABEL_VISIT_TIME}: {starts_at:{TIME_FORMAT}}")
    return Receipt(hospital=hospital, title=TITLE_PAYMENT, patient_name=patient_name,
                   items=(Item(ITEM_ANTENATAL_FEE, amount_fen),), masked_pan=masked_pan, txn_id=booking_id,
                   time=time, width=width, extra_lines=extra)
