"""Synthetic PBOC card profiles for the virtual card (no real account or person anywhere).

PANs are made-up UnionPay-style numbers completed with a valid Luhn digit; ID numbers are
made-up resident ID numbers completed with a valid GB 11643 check character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

ATR_T1 = bytes.fromhex("3B808001" "01")   # T=1 card: TD1 -> TD2 = T=1, TCK
ATR_T0 = bytes.fromhex("3B6500002063CBA000")  # T=0 card: no TD1, historical bytes
ATR_MUTE = b""                            # no answer to reset: no chip, or a dead one

AID_DEBIT = bytes.fromhex("A000000333010101")
AID_CREDIT = bytes.fromhex("A000000333010102")
AID_TRANSIT = bytes.fromhex("A000000632010105")  # a non-payment application (transport card)

# PBOC PDOL: TTQ, amount, other amount, country, TVR, currency, date, type, UN
PDOL_PBOC = bytes.fromhex("9F6604" "9F0206" "9F0306" "9F1A02" "9505" "5F2A02" "9A03" "9C01" "9F3704")
GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK = "10X98765432"


def with_luhn(body: str) -> str:
    """Append the Luhn check digit to ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def with_gb11643(body17: str) -> str:
    """Append the GB 11643 (ISO 7064 MOD 11-2) check character to 17 digits."""
    return body17 + GB11643_CHECK[sum(int(c) * w for c, w in zip(body17, GB11643_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class CardProfile:
    name: str
    atr: bytes = ATR_T1
    pan: str = with_luhn("629999000000001234")
    expiry: date = date(2031, 12, 31)
    cardholder_name: str = "CESHI/YONGHU"
    id_number: str | None = with_gb11643("11010519900307002")
    id_type: int | None = 0x00
    applications: tuple[bytes, ...] = (AID_DEBIT,)
    pse: bool = True
    ppse: bool = True
    t0: bool = False
    pdol: bytes = PDOL_PBOC
    labels: dict[bytes, str] = field(default_factory=lambda: {
        AID_DEBIT: "PBOC DEBIT", AID_CREDIT: "PBOC CREDIT", AID_TRANSIT: "TRANSIT"})


PROFILES: dict[str, CardProfile] = {p.name: p for p in (
    CardProfile("pse"),
    CardProfile("ppse-only", pse=False, applications=(AID_CREDIT,),
                pan=with_luhn("629999000000005678")),
    CardProfile("aid-fallback", pse=False, ppse=False, applications=(AID_DEBIT, AID_CREDIT)),
    CardProfile("t0", atr=ATR_T0, t0=True),
    CardProfile("no-id", id_number=None, id_type=None),
    CardProfile("expired", expiry=date(2023, 5, 31)),
    CardProfile("mute", atr=ATR_MUTE),
    CardProfile("no-application", pse=False, ppse=False, applications=(AID_TRANSIT,)),
)}
