"""Synthetic identities for tests and simulators: fake names, valid GB 11643 check digits.

Names are built from the characters of 测试/样例 words, never from real people; addresses and
authorities name a fictitious 样例市.
"""

from __future__ import annotations

import datetime as dt
import random

from kiosk.idcard.identity import NATIONS, Identity, Sex, id_check_char

SURNAMES = ("测", "样", "模", "拟", "虚")
GIVEN = ("试", "例", "甲", "乙", "丙", "丁", "戊", "己", "庚", "辛")
REGION_CODES = ("110105", "440524", "320102", "510104")  # county codes as in the GB 11643 examples
ADDRESS = "样例省样例市测试区模拟路{n}号"
AUTHORITY = "样例市公安局测试分局"
VALIDITY_YEARS_ADULT = 20


def make_id_number(rng: random.Random, birth: dt.date, sex: Sex, region: str | None = None) -> str:
    """18-character number: region, birth date, sequence with sex parity, check character."""
    seq = rng.randrange(0, 50) * 2 + (1 if sex is Sex.MALE else 0)
    first17 = f"{region or rng.choice(REGION_CODES)}{birth:%Y%m%d}{rng.randrange(0, 10)}{seq:02d}"
    return first17 + id_check_char(first17)


def synthetic_identity(rng: random.Random, *, sex: Sex | None = None, birth: dt.date | None = None,
                       valid_from: dt.date | None = None, long_term: bool = False) -> Identity:
    """A random but fully valid identity (female by default: a maternal-child hospital)."""
    sex = sex or Sex.FEMALE
    birth = birth or dt.date(1985, 1, 1) + dt.timedelta(days=rng.randrange(0, 20 * 365))
    valid_from = valid_from or dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(0, 5 * 365))
    valid_to = None if long_term else valid_from.replace(
        year=valid_from.year + VALIDITY_YEARS_ADULT, day=min(valid_from.day, 28))
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randrange(1, 3)))
    return Identity(
        name=name, sex=sex, nation_code=rng.choice(sorted(NATIONS)), birth_date=birth,
        address=ADDRESS.format(n=rng.randrange(1, 999)), id_number=make_id_number(rng, birth, sex),
        authority=AUTHORITY, valid_from=valid_from, valid_to=valid_to)
