"""PIN entry on the encrypted PIN pad: the kiosk sees only key events (how many digits, never
which); the PIN block is made inside the pad under its PIN key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.epp.framing import KeyEvent
from kiosk.flows.devices import PinPadDevice
from kiosk.flows.messages import Notice

PIN_MIN = 6          # UnionPay cards in China use 6-digit PINs
PIN_MAX = 6
PIN_TIMEOUT_S = 30
EVENT_SLICE_S = 0.1


@dataclass(frozen=True)
class PinKeys:
    """Work-key slots in the pad (loaded under the master key from the ceremony)."""

    pin_slot: int = 1
    mac_slot: int = 2                 # the card-token key
    terminal_mac_slot: int | None = 4  # the terminal MAC key (TAK) the acquirer checks; None: send no MAC


PURCHASE, ACCOUNT_VERIFICATION = "000000", "330000"  # ISO 8583 processing codes the acquirer sees
MAB_PREFIX = "MCH1"


def terminal_mab(processing_code: str, amount_fen: int, pan: str, expiry_yymm: str, pin_block: bytes,
                 terminal_id: str) -> bytes:
    """The terminal MAC block of docs/hospital-services.md: what the acquirer recomputes from the
    ISO 8583 fields 3, 4, 2, 14, 52 and 41 the hub sends."""
    return (f"{MAB_PREFIX}{processing_code}{amount_fen:012d}{pan}={expiry_yymm}{pin_block.hex().upper()}"
            f"{terminal_id}").encode("ascii")


def terminal_mac(pad: PinPadDevice, keys: PinKeys, processing_code: str, amount_fen: int, pan: str,
                 expiry_yymm: str, pin_block: bytes, terminal_id: str) -> bytes | None:
    """The PIN pad's X9.19 MAC over the terminal MAC block, so the hub passes amount, card and PIN
    block to the bank but cannot change them (the hub does not hold the terminal MAC key)."""
    if keys.terminal_mac_slot is None:
        return None
    return pad.mac(keys.terminal_mac_slot, terminal_mab(processing_code, amount_fen, pan, expiry_yymm, pin_block,
                                                        terminal_id))


@dataclass(frozen=True)
class PinOutcome:
    pin_block: bytes | None        # None: cancelled, timed out or aborted
    notice: Notice | None = None


def enter_pin(pad: PinPadDevice, pan: str, keys: PinKeys, *, on_digits: Callable[[int], None] = lambda n: None,
              aborted: Callable[[], bool] = lambda: False, timeout_s: int = PIN_TIMEOUT_S) -> PinOutcome:
    """Run one PIN entry; `on_digits(n)` shows n '*'; `aborted()` lets the app stop it (card pulled,
    session timeout). The pad's own timer ends the entry too."""
    pad.start_pin_entry(PIN_MIN, PIN_MAX, timeout_s)
    deadline = time.monotonic() + timeout_s + 2
    while True:
        if aborted() or time.monotonic() > deadline:
            pad.cancel_pin_entry()
            return PinOutcome(None, Notice("pin_cancelled"))
        event = pad.next_key_event(EVENT_SLICE_S)
        if event is None:
            continue
        if event in (KeyEvent.DIGIT, KeyEvent.CLEAR):
            on_digits(pad.digits_entered)
        elif event is KeyEvent.CANCEL:
            return PinOutcome(None, Notice("pin_cancelled"))
        elif event is KeyEvent.TIMEOUT:
            return PinOutcome(None, Notice("pin_timeout"))
        elif event is KeyEvent.ENTER:
            return PinOutcome(pad.pin_block(keys.pin_slot, pan))
