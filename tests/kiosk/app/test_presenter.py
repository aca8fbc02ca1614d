"""The presenter without pixels: the rules the screens show, driven directly."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from kiosk.app.presenter import KioskPresenter
from kiosk.app.settings import AppSettings
from kiosk.flows.devices import Devices
from kiosk.flows.messages import Notice
from kiosk.flows.screening import default_rules
from kiosk.flows.session import IdleTimer
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY, Board
from tests.kiosk.flows.conftest import board as board  # the I/O board on its simulator


@pytest.fixture
def hospital() -> FakeHospital:
    return FakeHospital(today=TODAY)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def presenter(hospital: FakeHospital, clock: Clock) -> tuple[KioskPresenter, list[tuple[str, str]]]:
    spoken: list[tuple[str, str]] = []
    p = KioskPresenter(hospital, Devices(), AppSettings(), voice=lambda text, lang: spoken.append((text, lang)),
                       today=lambda: TODAY, timer=IdleTimer(90, 20, clock=clock))
    return p, spoken


def with_new_identity(p: KioskPresenter) -> None:
    p.session.identity = synthetic_identity(random.Random(21), birth=dt.date(1995, 2, 3))
    p.open_register()


def test_number_entry_keypad_and_language_switch(hospital: FakeHospital) -> None:
    patient = hospital.add_patient("110105199003070026", "测试甲", dt.date(1990, 3, 7))
    p, spoken = presenter(hospital, Clock())
    p.open_number_entry()
    p.set_number_kind("outpatient")
    for key in patient.outpatient_no + "9":
        p.key(key)
    p.key("del")
    assert p.view.entry == patient.outpatient_no
    p.submit_number()
    assert p.view.screen == "menu" and "测*甲" in p.view.greeting and "测试甲" not in p.view.greeting
    p.toggle_lang()
    assert p.view.lang == "en" and p.view.greeting.startswith("Welcome")
    assert spoken and all("测试甲" not in text for text, _ in spoken)


def test_register_form_preview_and_invalid_field(hospital: FakeHospital) -> None:
    p, _ = presenter(hospital, Clock())
    with_new_identity(p)
    for name, value in (("lmp", "20260901"), ("height", "160"), ("weight", "64"), ("gravidity", "1"),
                        ("parity", "1")):
        p.select_field(name)
        for key in value:
            p.key(key)
    assert "13周+2天" in p.view.preview and "BMI 25.0" in p.view.preview
    p.to_screening()
    p.submit_registration()
    assert p.view.screen == "register" and "分娩次数" in p.view.message  # parity must be below gravidity
    p.select_field("parity")
    p.key("clear")
    p.key("0")
    p.to_screening()
    assert p.view.screen == "screening" and [r["item_id"] for r in p.view.rows] == [q.item_id for q in default_rules().questions]
    p.answer("2.3", True)
    assert next(r for r in p.view.rows if r["item_id"] == "2.3")["yes"] is True
    p.submit_registration()
    assert p.view.screen == "message" and "医生" in p.view.message and "不评定" in p.view.message
    assert len(hospital.records) == 1


def test_countdown_warning_more_time_and_wipe(hospital: FakeHospital) -> None:
    clock = Clock()
    p, _ = presenter(hospital, clock)
    with_new_identity(p)
    clock.now += 75
    p.tick()
    assert p.view.warning and p.view.countdown_s == 15
    p.more_time()
    assert not p.view.warning and p.view.countdown_s >= 60
    clock.now += 200
    p.tick()
    assert p.view.screen == "home" and p.session.personal_strings() == []
    assert "清除" in p.view.message


def test_devices_missing_disable_their_flows_only(hospital: FakeHospital) -> None:
    hospital.add_patient("110105199003070026", "测试甲", dt.date(1990, 3, 7))
    p, _ = presenter(hospital, Clock())
    p.open_number_entry()
    for key in "100001":
        p.key(key)
    p.set_number_kind("outpatient")
    p.submit_number()
    assert p.view.available["pay"] is False and p.view.available["book"] is True
    p.open_sign()
    assert p.view.screen == "message" and "银行卡读卡器" in p.view.message


@pytest.mark.integration  # the I/O board driver on its simulator
def test_a_card_the_transport_cannot_return_is_told_and_reported(hospital: FakeHospital, board: Board) -> None:
    """Her card jams inside and the capture jams too: she is told where her card is (not 'goodbye'),
    and the card transport is a device fault for the technician and the hub."""
    board.sim.board.insert_card()
    assert board.driver.accept_card(5).ok
    board.sim.board.jam, board.sim.board.motion_timeout_s = True, 0.3
    p = KioskPresenter(hospital, Devices(motor=board.driver), AppSettings(), today=lambda: TODAY,
                       timer=IdleTimer(90, 20, clock=Clock()))
    p.finish()
    assert p.view.screen == "home" and p.view.message == Notice("card_stuck").text("zh")
    # the probe between patients keeps it a fault while the card is inside (the hub sees `card-stuck`)
    reported = {f["code"]: f for f in p.health.link_faults()}
    assert not p.health.ok("motor") and reported["card-stuck"]["severity"] == "warning"
    board.sim.board.jam = False
    assert board.driver.capture_card().ok  # staff clear the jam and retrieve the card
    p.check_devices()
    assert p.health.ok("motor")
