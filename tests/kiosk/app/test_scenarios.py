"""Whole visits driven by touches on the screen and by the simulators (ID card, PIN pad, I/O
board, receipt printer, CUPS), against the fake hospital: what the patient sees, and that nothing
is lost or charged twice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kiosk.app.conftest import Runner
from tests.kiosk.app.script import (
    PIN,
    book_first_slot,
    known_patient,
    note,
    pay_with_pin,
    register_new_patient,
    shot,
    tap,
    wait,
)
from tests.kiosk.flows.conftest import card_data

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def message(report: dict[str, Any], name: str) -> str:
    return str(report["notes"][name]["message"])


def test_whole_visit_identify_register_sign_book_pay_print_leave(run_kiosk: Runner, cupsd: None) -> None:
    report = run_kiosk("scenario-visit", [
        *register_new_patient(screening_yes=True), note("registered"), tap("to_menu"), wait("menu"),
        {"do": "remember"},
        tap("sign"), {"do": "bank_card"}, wait("pin", busy_ok=True), note("holder_pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("signed"), {"do": "remember"},
        tap("to_menu"), wait("menu"), *book_first_slot(), note("booked"), {"do": "expect_pin", "pin": PIN}, *pay_with_pin(), note("paid"),
        tap("print_report"), wait("message"), note("report"), tap("leave"), wait("leave", busy_ok=True), note("leaving", busy_ok=True),
        {"do": "take_card"}, wait("home"), note("home"), {"do": "scan"},
    ], a4=True)
    assert "建档成功" in message(report, "registered") and "医生" in message(report, "registered")
    assert "签约成功" in message(report, "signed") and "****" in message(report, "signed")
    assert "验证您是持卡人本人" in message(report, "holder_pin")  # her PIN before the card is bound
    assert "请在" in message(report, "booked")
    assert "缴费成功" in message(report, "paid") and "25.00" in message(report, "paid")
    assert "凭条已打印" in message(report, "paid")
    assert "A4 报告已打印" in message(report, "report")
    assert "谢谢" in message(report, "home")
    hub = report["hospital"]
    assert (hub["records"], hub["bindings"], hub["payments"], hub["charged_fen"]) == (1, 1, 1, 2500)
    assert hub["verifications"] == 1
    assert hub["bookings"] == ["paid"]
    assert "预约凭条" in report["receipt"] and "缴费凭条" in report["receipt"] and "****" in report["receipt"]
    (a4,) = report["a4"]
    assert "预产期" in a4 and "第5次产前检查" in a4
    assert report["remembered"] and report["privacy_hits"] == [] and report["session_after"] == []
    assert card_data("no-id").pan in report["remembered"]  # the card she signed with and paid by is scanned for
    for secret in report["remembered"]:
        assert secret not in report["receipt"] and secret not in a4


def test_wrong_pin_then_right_pin_charges_once(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-wrong-pin", [
        *known_patient(), *book_first_slot(), {"do": "expect_pin", "pin": PIN}, *pay_with_pin("654321"),
        note("wrong"), tap("retry_pin"), wait("pin", busy_ok=True), {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"),
        note("paid")])
    assert "密码错误，还可以再试 2 次" in message(report, "wrong")
    assert "缴费成功" in message(report, "paid")
    assert report["hospital"]["payments"] == 2 and report["hospital"]["charged_fen"] == 2500


def wrong_holder_pin(name: str, pin: str = "654321", *, retry: bool = True) -> list[dict[str, Any]]:
    return [*([tap("retry_pin")] if retry else []), wait("pin", busy_ok=True), {"do": "pin", "keys": [*pin, "ENTER"]},
            wait("message"), note(name)]


def test_signing_wrong_pins_until_the_bank_locks_the_card_binds_nothing(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-sign-wrong-pin", [
        *known_patient(), {"do": "expect_pin", "pin": PIN}, tap("sign"), {"do": "bank_card"},
        *wrong_holder_pin("wrong1", retry=False), *wrong_holder_pin("wrong2"), *wrong_holder_pin("locked"),
        {"do": "shot", "name": "sign-locked-zh"}, tap("to_menu"), wait("menu"),
        # locked by the card's bank: a new attempt with the right PIN is refused too
        tap("sign"), wait("pin", busy_ok=True), {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"),
        note("still_locked")])
    assert "密码错误，还可以再试 2 次" in message(report, "wrong1")
    assert "密码错误，还可以再试 1 次" in message(report, "wrong2")
    for name in ("locked", "still_locked"):
        assert "银行卡已被发卡行锁定" in message(report, name) and "未做任何更改" in message(report, name)
    assert report["hospital"]["verifications"] == 4 and report["hospital"]["bindings"] == 0
    assert "bind_card" not in report["hospital"]["calls"] and report["hospital"]["charged_fen"] == 0


def test_signing_pin_timeout_and_bank_silence_bind_nothing(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-sign-timeout", [
        *known_patient(), tap("sign"), {"do": "bank_card"}, wait("pin", busy_ok=True), {"do": "expire_pin"},
        wait("message"), note("pad_timeout"), tap("to_menu"), wait("menu"),
        {"do": "hospital", "set": {"verify_mode": "unavailable"}}, tap("sign"), wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("bank_silent")])
    assert "密码输入超时，未做任何更改" in message(report, "pad_timeout")
    assert "银行暂时无法验证密码，未做任何更改" in message(report, "bank_silent")
    assert report["hospital"]["verifications"] == 1 and report["hospital"]["bindings"] == 0
    assert "bind_card" not in report["hospital"]["calls"]


def test_unbinding_asks_for_the_pin_of_the_bound_card(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-unbind-pin", [
        *known_patient(), {"do": "expect_pin", "pin": PIN}, tap("sign"), {"do": "bank_card"}, wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("signed"), tap("to_menu"), wait("menu"),
        tap("unbind"), wait("bindings"), {"do": "tap_row"}, *wrong_holder_pin("wrong", retry=False),
        tap("to_menu"), wait("menu"), note("menu_after_wrong"),
        tap("unbind"), wait("bindings"), {"do": "tap_row"}, wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("unbound")])
    assert "签约成功" in message(report, "signed")
    assert "密码错误，还可以再试 2 次" in message(report, "wrong")
    assert "解约成功" in message(report, "unbound") and "****" in message(report, "unbound")
    calls = report["hospital"]["calls"]
    assert calls.count("unbind_card") == 1 and calls.index("unbind_card") > calls.index("verify_cardholder")
    assert report["hospital"]["verifications"] == 3 and report["hospital"]["bindings"] == 0


def test_pin_pad_locked_disables_payment_only(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-pad-locked", [
        {"do": "lock_pad"}, {"do": "probe"}, *known_patient(), note("menu"), *book_first_slot(), tap("pay_now"), wait("message"),
        note("refused")])
    menu = " ".join(report["notes"]["menu"]["texts"])
    assert "缴费（暂停使用）" in menu and "银行卡签约（暂停使用）" in menu and "预约产检" in menu
    assert "密码键盘 故障" in message(report, "refused")
    assert report["hospital"]["payments"] == 0


def test_cancel_on_the_pin_screen_says_so_and_a_new_pin_entry_works(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-pin-cancel", [
        *known_patient(), *book_first_slot(), tap("pay_now"), {"do": "bank_card"}, wait("pin", busy_ok=True),
        tap("cancel", busy_ok=True), wait("message"), note("pay_cancelled"), tap("to_menu"), wait("menu"),
        tap("sign"), wait("pin", busy_ok=True), tap("cancel", busy_ok=True), wait("message"), note("sign_cancelled"),
        tap("to_menu"), wait("menu"), tap("sign"), wait("pin", busy_ok=True), {"do": "pin", "keys": [*PIN, "ENTER"]},
        wait("message"), note("signed")])
    assert "密码输入已取消，未扣款" in message(report, "pay_cancelled")
    assert "密码输入已取消，未做任何更改" in message(report, "sign_cancelled")
    assert "签约成功" in message(report, "signed")  # a Cancel before does not stop the next PIN entry
    assert report["hospital"]["payments"] == 0 and report["hospital"]["verifications"] == 1


def test_card_pulled_during_pin_entry_charges_nothing(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-card-pulled", [
        *known_patient(), *book_first_slot(), tap("pay_now"), {"do": "bank_card"}, wait("pin", busy_ok=True),
        {"do": "pull_bank_card"}, wait("message"), note("pulled")])
    assert "银行卡被拔出" in message(report, "pulled") and "未扣款" in message(report, "pulled")
    assert report["hospital"]["payments"] == 0 and report["hospital"]["charged_fen"] == 0


@pytest.mark.parametrize(("mode", "expected"), [("timeout", "交易已撤销，未扣款"), ("decline:51", "余额不足")])
def test_acquirer_timeout_and_decline_are_not_charged(run_kiosk: Runner, mode: str, expected: str) -> None:
    report = run_kiosk(f"scenario-{mode.replace(':', '-')}", [
        *known_patient(), *book_first_slot(), {"do": "hospital", "set": {"pay_mode": mode}}, *pay_with_pin(),
        note("outcome")])
    assert expected in message(report, "outcome") and "未扣款" in message(report, "outcome")
    assert report["hospital"]["charged_fen"] == 0 and report["hospital"]["bookings"] == ["held"]


def test_receipt_printer_out_of_paper_takes_no_payment(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-no-paper", [
        {"do": "printer_out"}, {"do": "probe"}, *known_patient(), note("menu"), *book_first_slot(), note("booked"),
        tap("pay_now"), wait("message"), note("refused")])
    assert "缴费（暂停使用）" in " ".join(report["notes"]["menu"]["texts"])
    assert "凭条打印机" in message(report, "refused")
    assert "凭条打印失败" in message(report, "booked")  # the booking is held, its slip could not print
    assert report["hospital"]["payments"] == 0


def test_paper_running_out_mid_visit_pauses_payment_at_once(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-paper-out-mid-visit", [
        *known_patient(), note("menu_before"), {"do": "printer_out"}, *book_first_slot(), tap("pay_now"),
        {"do": "bank_card"},
        wait("message"), note("refused"), tap("to_menu"), wait("menu"), note("menu_after")])
    assert "缴费（暂停使用）" not in " ".join(report["notes"]["menu_before"]["texts"])
    assert "凭条打印机缺纸" in message(report, "refused")
    assert "缴费（暂停使用）" in " ".join(report["notes"]["menu_after"]["texts"])  # probed then, not after her
    assert report["hospital"]["payments"] == 0


def test_hub_down_queues_identification_and_refuses_booking(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-hub-down", [
        {"do": "hospital", "set": {"unreachable": True}}, {"do": "place_id", "card": "valid"}, wait("message"),
        note("queued")])
    assert "医院系统暂时无法连接" in message(report, "queued") and "无法预约和缴费" in message(report, "queued")
    assert report["outbox"] == [["kiosk-registration", "kiosk-registration/1"]]  # kept for the hub, durably


def test_hub_down_at_the_id_card_then_her_registration_form_is_queued_too(run_kiosk: Runner) -> None:
    """Hub down when she places her card: the kiosk keeps her identity and offers the form; the record
    she fills in is kept for the hub as well (identity + form) and she is told so."""
    form = register_new_patient(screening_yes=True)[2:]  # the form after her card, filled in by touch
    report = run_kiosk("scenario-hub-down-register", [
        {"do": "hospital", "set": {"unreachable": True}}, {"do": "place_id", "card": "valid"}, wait("message"),
        note("queued"), tap("register"), wait("register"), *form, note("registered"), tap("leave"),
        wait("home"), {"do": "scan", "queued": True}])
    assert "您的信息已保存" in message(report, "queued")
    registered = message(report, "registered")
    assert "建档信息已保存，恢复后自动提交" in registered and "医生" in registered  # queued, and her screen result
    assert report["outbox"] == [["kiosk-registration", "kiosk-registration/1"]] * 2
    identity_only, with_form = report["outbox_bodies"]
    assert "pregnancy" not in identity_only and with_form["patient"] == identity_only["patient"]
    assert with_form["pregnancy"]["lmp"] == "2026-09-01" and with_form["pregnancy"]["height_cm"] == 162.0
    assert with_form["pregnancy"]["pre_pregnancy_weight_kg"] == 55.5
    assert (with_form["pregnancy"]["gravidity"], with_form["pregnancy"]["parity"]) == (2, 1)
    assert "register_patient" in report["hospital"]["calls"] and report["hospital"]["records"] == 0
    # on no screen, in no log line once she is gone; only the outbox keeps her, until the hub has it
    assert report["privacy_hits"] == [] and len(report["remembered"]) >= 2 and report["kept_for_hub"]


def test_hub_down_after_identification_refuses_booking_and_payment(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-hub-down-booking", [
        *known_patient(), {"do": "hospital", "set": {"unreachable": True}},
        tap("book"), wait("message"), note("book_refused"), tap("to_menu"), wait("menu"),
        tap("pay"), wait("message"), note("pay_refused"), tap("to_menu"), wait("menu"), note("menu")])
    assert "医院系统暂时无法连接" in message(report, "book_refused") and "不能预约" in message(report, "book_refused")
    assert "不能缴费" in message(report, "pay_refused") and "未扣款" in message(report, "pay_refused")
    assert report["notes"]["menu"]["screen"] == "menu"  # she is still served (register, print) and not stuck
    hub = report["hospital"]
    assert "recommended_visit" in hub["calls"]  # the hub was asked, its silence was the refusal
    assert "hold_slot" not in hub["calls"] and "pay" not in hub["calls"]
    assert hub["bookings"] == [] and hub["payments"] == 0 and hub["charged_fen"] == 0


def test_expired_id_card_is_told_why(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-expired-id", [{"do": "place_id", "card": "expired"}, {"do": "wait_message"},
                                               note("home")])
    assert report["notes"]["home"]["screen"] == "home"
    assert "身份证已于" in message(report, "home") and "过期" in message(report, "home")
    assert report["hospital"]["calls"] == []


def test_idle_timeout_wipes_everything(run_kiosk: Runner) -> None:
    report = run_kiosk("scenario-timeout", [
        *known_patient(), *book_first_slot(), tap("pay_now"), {"do": "bank_card"}, wait("pin", busy_ok=True),
        tap("cancel", busy_ok=True), wait("message"), {"do": "remember"}, tap("to_menu"), wait("menu"),
        {"do": "advance_idle", "s": 75}, {"do": "wait_warning"}, note("warning"), shot("warning", "menu"),
        tap("more_time"), wait("menu"), note("more_time"),
        {"do": "advance_idle", "s": 200}, wait("home"), note("home"), shot("home_after_timeout", "home"),
        {"do": "scan"}])
    warning = report["notes"]["warning"]
    assert warning["screen"] == "menu" and any("秒后自动退出" in t for t in warning["texts"])
    assert "需要更多时间" in warning["texts"]
    assert "需要更多时间" not in report["notes"]["more_time"]["texts"]  # the warning gone with more time
    shots = {s["name"]: s for s in report["shots"]}
    assert "需要更多时间" in shots["warning"]["texts"] and shots["warning"]["missing"] == []
    assert shots["warning"]["layout"] == [] and shots["warning"]["small_targets"] == []
    assert "已退出并清除您的信息" in message(report, "home")
    assert report["privacy_hits"] == [] and report["session_after"] == []
    assert card_data("no-id").pan in report["remembered"] and len(report["remembered"]) >= 3  # name, ID, PAN (read)
    assert report["hospital"]["bookings"] == ["released"] and report["hospital"]["charged_fen"] == 0
