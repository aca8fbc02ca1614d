"""Bank-card reader over PC/SC: read-only PBOC/EMV flow, BER-TLV codec, virtual card for tests."""

from kiosk.bankcard.card_data import BankCardData, mask_pan
from kiosk.bankcard.pcsc import PcscClient
from kiosk.bankcard.reader import BankCardReader

__all__ = ["BankCardData", "BankCardReader", "PcscClient", "mask_pan"]
