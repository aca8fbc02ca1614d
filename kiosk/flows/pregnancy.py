"""Gestational age, due date and BMI (pure). EDD = LMP + 280 days (Naegele's rule)."""

from __future__ import annotations

import datetime as dt

PREGNANCY_DAYS = 280
MAX_GA_DAYS = 44 * 7  # an LMP further back than 44 weeks is a typing error, not a pregnancy
TRIMESTER_2_DAYS = 13 * 7
TRIMESTER_3_DAYS = 28 * 7


def edd(lmp: dt.date) -> dt.date:
    return lmp + dt.timedelta(days=PREGNANCY_DAYS)


def gestational_age_days(lmp: dt.date, today: dt.date) -> int:
    return (today - lmp).days


def format_ga(days: int, lang: str = "zh") -> str:
    weeks, rest = divmod(days, 7)
    return f"{weeks}周+{rest}天" if lang == "zh" else f"{weeks}w+{rest}d"


def trimester(days: int) -> int:
    return 1 if days < TRIMESTER_2_DAYS else 2 if days < TRIMESTER_3_DAYS else 3


def bmi(height_cm: float, weight_kg: float) -> float:
    if height_cm <= 0 or weight_kg <= 0:
        raise ValueError("height and weight must be positive")
    metres = height_cm / 100
    return round(weight_kg / (metres * metres), 1)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
