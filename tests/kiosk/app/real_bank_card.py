"""The bank card in the UI driver through the real stack: the product's BankCardReader over pcscd and
the vpcd virtual reader, reading a virtual PBOC card that the driver plugs in and pulls out as her
hand would (a real vpcd insertion and removal, seen by pcscd at its next poll)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.bankcard.card_profiles import PROFILES, CardProfile
from kiosk.bankcard.slot import HeartbeatBoard, IoBoardSlot
from kiosk.bankcard.virtual_card import VirtualPbocCard
from kiosk.bankcard.vpcd import VPCD_DEFAULT_PORT, VpcdCardLink
from kiosk.config import BankCardConfig

CARD_EXPIRY = dt.date(2030, 12, 31)


def product_reader(client: PcscClient, board: HeartbeatBoard, reader_name: str) -> BankCardReader:
    """The reader as kiosk.app.launch.open_devices wires it: the I/O board's sensors are its slot."""
    return BankCardReader(client, reader_name=reader_name, slot=IoBoardSlot(board))


def pcsc_client() -> PcscClient:
    return PcscClient(call_timeout_s=BankCardConfig().call_timeout_s)


def card_profile(name: str, *, pan: str | None, holder_id: str | None) -> CardProfile:
    """Profile `name` (card_profiles.PROFILES) with the acquirer's PAN (then valid to 2030-12-31) and,
    given `holder_id`, that cardholder ID in 9F61."""
    profile = PROFILES[name]
    if pan is not None:
        profile = replace(profile, pan=pan, expiry=CARD_EXPIRY)
    if holder_id is not None:
        profile = replace(profile, id_number=holder_id, id_type=0x00)
    return profile


class CardHand:
    """Her bank card in and out of the vpcd reader; remembers every card handed in for the report."""

    def __init__(self, port: int = VPCD_DEFAULT_PORT) -> None:
        self._port = port
        self.link: VpcdCardLink | None = None
        self._links: list[VpcdCardLink] = []

    @property
    def inserted(self) -> bool:
        return self.link is not None

    def insert(self, profile: CardProfile) -> VpcdCardLink:
        if self.link is not None:
            raise RuntimeError("a card is already in the reader")
        self.link = VpcdCardLink(VirtualPbocCard(profile), port=self._port).insert()
        self._links.append(self.link)
        return self.link

    def connected(self) -> bool:
        """vpcd (inside pcscd) holds the card's connection: the chip touches the contacts."""
        return self.link is not None and self.link.wait_connected(0)

    def remove(self) -> None:
        if self.link is not None:
            self.link.remove()
            self.link = None

    def report(self) -> list[dict[str, Any]]:
        """What each card saw: ATC (one per PBOC read), vpcd connections, every (CLA, INS) sent."""
        out = []
        for link in self._links:
            card = link.card
            assert isinstance(card, VirtualPbocCard)
            out.append({"pan_last4": card.profile.pan[-4:], "atc": card.atc, "connections": link.connections,
                        "instructions": sorted(set(card.instructions_seen))})
        return out
