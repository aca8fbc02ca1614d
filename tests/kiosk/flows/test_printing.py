"""Receipts through the real receipt driver and simulator; the A4 report's PDF text."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from kiosk.errors import PrinterError
from kiosk.flows.printing import print_booking, print_payment, print_report, report_rows
from kiosk.flows.register import Answers, register
from kiosk.hospital.api import PaymentResult
from kiosk.receipt.commands import PaperLevel, PrinterStatus
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY, Printer
from tests.kiosk.flows.test_payment import booked

pytestmark = pytest.mark.integration  # drivers on their pty simulators

NOW = dt.datetime(2026, 12, 3, 10, 30)
HOSPITAL = "样例市妇幼保健院"


def test_booking_and_payment_receipts_carry_the_booking_qr_and_only_masked_data(
        hospital: FakeHospital, printer: Printer) -> None:
    session = booked(hospital)
    assert session.booking is not None and session.bank_card is not None and session.identity is not None
    assert print_booking(printer.driver, session, HOSPITAL, NOW).ok
    session.payment = PaymentResult("PAY123456", "approved", "00", "ok", "A1B2C3", 2500)
    assert print_payment(printer.driver, session, HOSPITAL, NOW).ok
    decoded = printer.sim.wait_for_cuts(2)
    text = "\n".join(decoded.lines)
    assert decoded.qr_codes == [f"TXN:{session.booking.booking_id}"] * 2
    assert "预约凭条" in text and "缴费凭条" in text and "产科门诊 3 诊室" in text and "A1B2C3" in text
    assert session.bank_card.masked_pan in text and session.bank_card.pan not in text
    assert session.identity.name not in text and session.identity.id_number not in text


class CollectingA4:
    def __init__(self, fail: bool = False) -> None:
        self.texts: list[str] = []
        self.paths: list[Path] = []
        self.fail = fail

    def print_pdf(self, pdf: Path, title: str, timeout_s: float | None = None) -> object:
        if self.fail:
            raise PrinterError("a4printer", "out of paper")
        self.paths.append(pdf)
        self.texts.append(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                                         check=True).stdout)
        return None


def test_a4_report_has_record_and_schedule_masked_and_leaves_no_file(hospital: FakeHospital) -> None:
    session = booked(hospital)
    assert session.identity is not None
    register(hospital, session, Answers(TODAY - dt.timedelta(days=120), 158, 66, 2, 1, {"2.2": True}), TODAY)
    rows = dict(report_rows(session, TODAY))
    assert rows["预产期"] == (TODAY - dt.timedelta(days=120) + dt.timedelta(days=280)).isoformat()
    # what the doctor grades from: each positive item with its meaning, not a bare code
    assert rows["需关注项目 2.2"] == "以前做过剖宫产吗？ 是"
    assert rows["需关注项目 1.3"] == "BMI >25 或 <18.5"  # 66 kg at 158 cm: BMI 26.4
    assert rows["已预约"].endswith("（待缴费）")  # in her language, not the hub's status code
    assert session.booking is not None
    session.payment = PaymentResult("PAY1", "approved", "00", "approved", "123456", session.booking.fee_fen)
    assert dict(report_rows(session, TODAY))["已预约"].endswith("（已缴费）")  # the booking copy still says held
    session.payment = None
    a4 = CollectingA4()
    assert print_report(a4, session, TODAY).ok
    (text,) = a4.texts
    for expected in ("孕产妇自助建档报告", "末次月经", "预产期", "第5次产前检查", "医生", "产科门诊"):
        assert expected in text
    assert session.identity.name not in text and session.identity.id_number not in text
    assert not a4.paths[0].exists() and not a4.paths[0].parent.exists()
    failed = print_report(CollectingA4(fail=True), session, TODAY)
    assert not failed.ok and failed.notice.code == "report_failed"


def test_receipt_printer_out_of_paper_is_reported(hospital: FakeHospital, printer: Printer) -> None:
    session = booked(hospital)
    printer.sim.status = PrinterStatus(online=False, cover_open=False, paper=PaperLevel.OUT, cutter_error=False,
                                       unrecoverable_error=False)
    printed = print_booking(printer.driver, session, HOSPITAL, NOW)
    assert not printed.ok and printed.notice.code == "receipt_failed" and "paper out" in printed.notice.text("en")
    assert not any("a" <= ch.lower() <= "z" for ch in printed.notice.text("zh"))  # no driver English on her screen
