"""Leaving: eject her bank card and remind her (buzzer + screen + voice); a card left behind is
captured for the staffed window; then every trace of her is wiped from memory.

A card the transport cannot eject is captured at once (she is not kept waiting for a card that never
comes out); a capture that fails leaves the card in the reader: that is a card-transport fault, told
to her (`device_fault`) and to the technician (`DeviceHealth`: in the link's state, on the hub's fleet view)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import CardMotor, DeviceHealth, IdCardSource
from kiosk.flows.messages import Notice
from kiosk.flows.session import Session

TAKE_CARD_S = 30.0
POLL_S = 0.25
REMIND_EVERY_S = 8.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Left:
    card_captured: bool
    notices: tuple[Notice, ...]
    motor_fault: str | None = None  # for the technician (no personal data): why her card is still inside


class _MotorFault(Exception):
    pass


def leave(session: Session, motor: CardMotor | None, idcard: IdCardSource | None, *,
          take_card_s: float = TAKE_CARD_S, remind: Callable[[Notice], None] = lambda n: None,
          sleep: Callable[[float], None] = time.sleep, health: DeviceHealth | None = None) -> Left:
    """Eject, wait for the card to be taken (reminding), capture it if not; wipe the session.
    `health`: where a card-transport fault is reported (the app's DeviceHealth)."""
    notices: list[Notice] = []
    captured, fault = False, None
    try:
        try:
            if motor is not None and motor.heartbeat().card_inside:
                captured = _return_card(motor, take_card_s, remind, sleep, notices)
        except (KioskDeviceError, _MotorFault) as exc:
            fault = exc.message if isinstance(exc, KioskDeviceError) else str(exc)
            log.error("leave: card transport fault: %s", fault)
            notices += [Notice("device_fault", {"devices": "motor"}), Notice("card_stuck")]
            if health is not None:
                health.fault("motor", fault)
        if idcard is not None and idcard.find_card():
            notices.append(Notice("take_id_card"))
            remind(Notice("take_id_card"))
    except KioskDeviceError as exc:  # the ID card reader (was reported as the card transport)
        log.error("leave: ID card reader fault: %s", exc.message)
        notices.append(Notice("device_fault", {"devices": "idcard"}))
    finally:
        session.wipe()
    notices.append(Notice("goodbye"))
    return Left(captured, tuple(notices), fault)


def _return_card(motor: CardMotor, take_card_s: float, remind: Callable[[Notice], None],
                 sleep: Callable[[float], None], notices: list[Notice]) -> bool:
    outcome = motor.eject_card()
    if not outcome.ok:
        log.warning("leave: eject failed (%s)", outcome.result_name)
        status = motor.heartbeat()
        if not status.card_at_mouth:  # still inside (or gone): nothing for her to take
            return _capture(motor, notices) if status.card_inside else False
    notices.append(Notice("take_card"))
    remind(Notice("take_card"))
    waited = since_reminder = 0.0
    while waited < take_card_s:
        status = motor.heartbeat()
        if not status.card_at_mouth and not status.card_inside:
            return False
        sleep(POLL_S)
        waited += POLL_S
        since_reminder += POLL_S
        if since_reminder >= REMIND_EVERY_S:
            since_reminder = 0.0
            motor.buzz(200, 200, 2)
            remind(Notice("take_card"))
    return _capture(motor, notices)


def _capture(motor: CardMotor, notices: list[Notice]) -> bool:
    capture = motor.capture_card()
    if not capture.ok:
        raise _MotorFault(f"card capture failed ({capture.result_name}); a card may be left in the reader")
    log.info("leave: card not taken, captured")
    notices.append(Notice("card_captured"))
    return True
