"""Start every kiosk device's simulator and give back a configuration pointing at them.

Serial devices (ID-card reader, PIN pad, I/O board, receipt printer) get their simulators on
pseudo-terminals; the bank card is a virtual PBOC card plugged into pcscd's vpcd reader; the A4
printer is ippeveprinter behind a temporary CUPS queue; the touchscreen cannot be faked without
/dev/uinput, so only its Kivy configuration is checked. A simulator that cannot start (no pcscd,
no cupsd) is reported as that device's fault, not as a crash.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiosk.config import (
    A4PrinterConfig,
    BankCardConfig,
    KioskConfig,
    ReceiptConfig,
    SerialDeviceConfig,
)
from kiosk.errors import KioskDeviceError
from kiosk.touch.kivy_input import TouchConfig

VIRTUAL_READER = "Virtual PCD 00 00"
CARD_CONNECT_S = 3.0
CARD_POLL_S = 0.2
SIMULATED_QUEUE = "simulated"
log = logging.getLogger(__name__)


@dataclass
class Simulation:
    config: KioskConfig
    faults: dict[str, str] = field(default_factory=dict)


def _serial(stack: contextlib.ExitStack, handle: Any, old: SerialDeviceConfig | None) -> SerialDeviceConfig:
    stack.callback(handle.stop)
    return SerialDeviceConfig(port=handle.port_url, baudrate=old.baudrate if old else 115200)


def _wait_card_seen(reader: str) -> None:
    """Give pcscd one or two polls to notice the inserted virtual card (best effort)."""
    from kiosk.bankcard.pcsc import STATE_PRESENT, PcscClient

    client = PcscClient()
    deadline = time.monotonic() + CARD_CONNECT_S
    try:
        state = client.card_state(reader, 0)
        while time.monotonic() < deadline and not state & STATE_PRESENT:
            state = client.card_state(reader, CARD_POLL_S, known_state=state)
    except KioskDeviceError as exc:
        log.warning("pcscd did not report the virtual card: %s", exc)
    finally:
        client.release()


@contextlib.contextmanager
def simulated(base: KioskConfig | None = None) -> Iterator[Simulation]:
    """Context manager: every device on its simulator; everything is stopped on exit."""
    from kiosk.bankcard.card_profiles import PROFILES
    from kiosk.bankcard.virtual_card import VirtualPbocCard
    from kiosk.bankcard.vpcd import VpcdCardLink
    from kiosk.epp.simulator import start_on_pty as start_epp
    from kiosk.idcard.identity import parse_text_block
    from kiosk.idcard.simulator import start_on_pty as start_idcard
    from kiosk.idcard.simulator import valid_card
    from kiosk.ioboard.simulator import start_on_pty as start_ioboard
    from kiosk.receipt.simulator import start_on_pty as start_receipt

    base = base or KioskConfig()
    faults: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mch-kiosk-sim-")))
        id_card = valid_card()
        idcard = _serial(stack, start_idcard([id_card]), base.idcard)
        epp = _serial(stack, start_epp(), base.epp)
        ioboard = _serial(stack, start_ioboard(), base.ioboard)
        receipt_handle = start_receipt()
        stack.callback(receipt_handle.stop)
        receipt = replace(base.receipt or ReceiptConfig(), kind="serial", url=receipt_handle.port_url)

        bankcard = replace(base.bankcard or BankCardConfig(), reader=VIRTUAL_READER)
        # her own bank card: the chip's cardholder ID (9F61) is the ID card's number, so signing succeeds
        holder = parse_text_block(id_card.text).id_number
        card = VirtualPbocCard(replace(PROFILES["pse"], id_number=holder))
        link = VpcdCardLink(card, port=bankcard.vpcd_port).insert()
        stack.callback(link.remove)
        if not link.wait_connected(CARD_CONNECT_S):
            faults["bankcard"] = f"virtual card could not reach vpcd on port {bankcard.vpcd_port} (is pcscd running?)"
        else:
            _wait_card_seen(VIRTUAL_READER)

        a4 = base.a4printer or A4PrinterConfig(queue=SIMULATED_QUEUE)
        try:
            from kiosk.a4printer.simulator import SimulatedA4Printer

            printer = SimulatedA4Printer(workdir / "a4", server=a4.server)
            stack.callback(printer.stop)
            a4 = replace(a4, queue=printer.queue)
        except (KioskDeviceError, OSError) as exc:
            faults["a4printer"] = f"simulated printer did not start: {getattr(exc, 'message', exc)}"

        touch = base.touch or TouchConfig()
        yield Simulation(KioskConfig(idcard=idcard, epp=epp, ioboard=ioboard, receipt=receipt,
                                     bankcard=bankcard, a4printer=a4, touch=touch), faults)
