"""Leaving: eject her bank card and remind her (buzzer + screen + voice); a card left behind is
captured for the staffed window; then every trace of her is wiped from memory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import CardMotor, IdCardSource
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


def leave(session: Session, motor: CardMotor | None, idcard: IdCardSource | None, *,
          take_card_s: float = TAKE_CARD_S, remind: Callable[[Notice], None] = lambda n: None,
          sleep: Callable[[float], None] = time.sleep) -> Left:
    """Eject, wait for the card to be taken (reminding), capture it if not; wipe the session."""
    notices: list[Notice] = []
    captured = False
    try:
        if motor is not None and motor.heartbeat().card_inside:
            captured = _return_card(motor, take_card_s, remind, sleep, notices)
        if idcard is not None and idcard.find_card():
            notices.append(Notice("take_id_card"))
            remind(Notice("take_id_card"))
    except KioskDeviceError as exc:
        log.error("leave: card transport fault: %s", exc.message)
        notices.append(Notice("device_fault", {"devices": "motor"}))
    finally:
        session.wipe()
    notices.append(Notice("goodbye"))
    return Left(captured, tuple(notices))


def _return_card(motor: CardMotor, take_card_s: float, remind: Callable[[Notice], None],
                 sleep: Callable[[float], None], notices: list[Notice]) -> bool:
    outcome = motor.eject_card()
    if not outcome.ok:
        log.warning("leave: eject failed (%s)", outcome.result_name)
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
    capture = motor.capture_card()
    log.info("leave: card not taken, captured (%s)", capture.result_name)
    notices.append(Notice("card_captured"))
    return True
