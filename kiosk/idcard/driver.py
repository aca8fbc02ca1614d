"""Resident ID card reader driver (SAM_V over serial). The transport comes from the caller."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kiosk.errors import CardDataError, DeviceStatusError, FrameError
from kiosk.idcard import frames as f
from kiosk.idcard.identity import TEXT_ENCODING, Identity, parse_text_block
from kiosk.serial_transport import Transport, port_name, read_exact, write_all

DEVICE = "idcard"
RESPONSE_TIMEOUT_S = 1.0  # a 30 01 answer takes ~0.11 s on the wire at 115200 baud plus SAM time
NEWEST_ADDRESS_LEN = 70
MIN_POLL_INTERVAL_S = 0.3  # vendor note: poll for a card no faster than this
log = logging.getLogger(__name__)


def _name(command: int) -> str:
    try:
        return f.Command(command).name
    except ValueError:
        return f"command 0x{command:04X}"


@dataclass(frozen=True)
class CardRead:
    identity: Identity
    photo_wlt: bytes
    newest_address: str | None = None

    def __repr__(self) -> str:
        return f"CardRead({self.identity!r})"


class IdCardReader:
    """find (20 01) -> select (20 02) -> read (30 01) [-> newest address (30 03)]."""

    def __init__(self, transport: Transport, *, timeout_s: float = RESPONSE_TIMEOUT_S) -> None:
        self._port = transport
        self._timeout_s = timeout_s

    @property
    def port(self) -> str:
        return port_name(self._port)

    def transact(self, command: int) -> f.Response:
        """Send one request, return the checked response (any SW3)."""
        self._port.reset_input_buffer()
        write_all(self._port, f.encode_request(command), device=DEVICE)
        deadline = time.monotonic() + self._timeout_s
        what = f"answer to {_name(command)}"
        header = read_exact(self._port, f.HEADER_LEN, device=DEVICE, deadline=deadline, what=what)
        try:
            rest = read_exact(self._port, f.body_length(header), device=DEVICE, deadline=deadline, what=what)
            return f.decode_response(header + rest)
        except FrameError as exc:
            raise FrameError(DEVICE, exc.message, port=self.port) from exc

    def _expect(self, command: int, *ok: int) -> f.Response:
        resp = self.transact(command)
        if resp.sw3 not in ok:
            raise DeviceStatusError(DEVICE, f"{_name(command)}: {resp.status_text}",
                                    status=resp.sw3, port=self.port)
        return resp

    def sam_status(self) -> None:
        self._expect(f.Command.SAM_STATUS, f.Sw3.OK)

    def sam_id(self) -> bytes:
        return self._expect(f.Command.READ_SAM_ID, f.Sw3.OK).data

    def find_card(self) -> bool:
        """True when a card is on the reader."""
        return self._expect(f.Command.FIND_CARD, f.Sw3.CARD_FOUND, f.Sw3.FIND_CARD_FAILED).sw3 == f.Sw3.CARD_FOUND

    def select_card(self) -> bytes:
        return self._expect(f.Command.SELECT_CARD, f.Sw3.OK).data

    def read_identity(self) -> tuple[Identity, bytes]:
        data = self._expect(f.Command.READ_TEXT_PHOTO, f.Sw3.OK).data
        try:
            card = f.decode_card_data(data)
            return parse_text_block(card.text), card.photo_wlt
        except (FrameError, CardDataError) as exc:
            raise type(exc)(DEVICE, exc.message, port=self.port) from exc

    def read_newest_address(self) -> str | None:
        """The address written after issue (30 03), or None when the card has none (SW3 91)."""
        resp = self._expect(f.Command.READ_NEWEST_ADDRESS, f.Sw3.OK, f.Sw3.NO_CONTENT)
        if resp.sw3 == f.Sw3.NO_CONTENT:
            return None
        try:
            return resp.data[:NEWEST_ADDRESS_LEN].decode(TEXT_ENCODING).rstrip(" \x00") or None
        except UnicodeDecodeError as exc:
            raise CardDataError(DEVICE, "newest address is not UCS-2", port=self.port) from exc

    def read_card(self, *, newest_address: bool = False) -> CardRead | None:
        """Whole sequence; None when no card is present."""
        if not self.find_card():
            return None
        self.select_card()
        identity, photo = self.read_identity()
        address = self.read_newest_address() if newest_address else None
        log.info("idcard: read card %s", identity)
        return CardRead(identity, photo, address)

    def wait_for_card(self, timeout_s: float, *, poll_s: float = MIN_POLL_INTERVAL_S) -> bool:
        """Poll find-card (no faster than the vendor's limit) until a card is there or time is up."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.find_card():
                return True
            if time.monotonic() + poll_s > deadline:
                return False
            time.sleep(max(poll_s, MIN_POLL_INTERVAL_S))

    def self_test(self) -> str:
        self.sam_status()
        return f"ID-card SAM OK, SAM ID {self.sam_id().hex().upper()}"
