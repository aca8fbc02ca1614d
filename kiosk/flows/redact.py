"""Personal data out of logs: ID numbers and card numbers are masked in every log record and in
exported logs. Names cannot be recognised by pattern, so the flows never log one (tests check)."""

from __future__ import annotations

import logging
import re

from kiosk.bankcard.card_data import luhn_valid, mask_pan
from kiosk.idcard.identity import id_number_valid, mask_id_number

ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
PAN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def redact(text: str) -> str:
    text = ID_NUMBER.sub(lambda m: mask_id_number(m[0]) if id_number_valid(m[0].upper()) else m[0], text)
    return PAN.sub(lambda m: mask_pan(m[0]) if luhn_valid(m[0]) else m[0], text)


class RedactingFilter(logging.Filter):
    """Attach to handlers: the formatted message is redacted before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
