"""Pregnancy records (自助建档): gestational age, due date (Naegele: LMP + 280 d), BMI, screening.

The stored body is keyed by WS 363 data element codes where the standard has one (see
docs/hospital-services.md); values the standard does not name carry local ``x-`` keys.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request
from central_hub.services.patients import PatientIndex
from central_hub.services.privacy import Privacy
from central_hub.services.screening import load_rules

PREGNANCY_DAYS = 280
MAX_GA_DAYS = 44 * 7
DE_LMP = "DE02.10.051.00"  # 末次月经日期
DE_EDD = "DE05.10.098.00"  # 预产期
DE_GRAVIDITY = "DE04.01.108.00"  # 孕次
DE_PARITY = "DE02.10.002.00"  # 产次
DE_HEIGHT_CM = "DE04.10.167.00"  # 身高
DE_WEIGHT_KG = "DE04.10.188.00"  # 体重 (here: before pregnancy)
X_BMI = "x-bmi"
X_GA_DAYS = "x-gestational-age-days"
X_SCREEN_POSITIVE = "x-screen-positive"
X_POSITIVE_ITEMS = "x-screen-positive-items"
X_ANSWERS = "x-screening-answers"
# Two LMPs less than a pregnancy and its puerperium apart (280 + 42 d) cannot be two pregnancies of one
# woman that both still need a record: a second registration within that span is the same pregnancy.
SAME_PREGNANCY_DAYS = PREGNANCY_DAYS + 42
NEW, MATCHED, CONFLICT = "new", "matched", "conflict"
# what must agree for a second registration to be "the same" (the form's fields; GA and BMI follow from them)
COMPARED = (("lmp", DE_LMP), ("height_cm", DE_HEIGHT_CM), ("pre_pregnancy_weight_kg", DE_WEIGHT_KG),
            ("gravidity", DE_GRAVIDITY), ("parity", DE_PARITY), ("screening", X_ANSWERS))


@dataclass(frozen=True)
class Made:
    status: str  # NEW | MATCHED | CONFLICT
    record_id: str  # the new record, or the one this pregnancy already has
    answer: dict[str, Any]  # as `pregnancy.create` answers (the kiosk keeps it as pregnancy-record/1)
    differ: list[str]  # CONFLICT: the fields that differ (names, never values)


def bmi(height_cm: float, weight_kg: float) -> float:
    return round(weight_kg / (height_cm / 100) ** 2, 1)


def age_years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _number(args: dict[str, Any], key: str, low: float, high: float) -> float:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"{key}: want a number from {low} to {high}")
    return float(value)


def _count(args: dict[str, Any], key: str) -> int:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 30:
        raise bad_request(f"{key}: want a whole number from 0 to 30")
    return value


class PregnancyRecords:
    def __init__(self, db: ServicesDb, privacy: Privacy, patients: PatientIndex,
                 today: Callable[[], dt.date] = dt.date.today, clock: Callable[[], float] = time.time) -> None:
        self.db, self.privacy, self.patients, self.today, self.clock = db, privacy, patients, today, clock

    def create(self, args: dict[str, Any]) -> dict[str, Any]:
        """`pregnancy.create`: a new record, or the one this pregnancy already has when it holds the same
        data (e.g. her registration queued while the hub was down, then made again online); other data
        for the same pregnancy is refused (`record-exists`), never merged."""
        made = self.make(self.patients.get(str(args.get("patient_id"))), args, self.today())
        if made.status == CONFLICT:
            raise ServiceError("record-exists", "this pregnancy already has a record with other data"
                               f" ({', '.join(made.differ)}): please see the desk")
        return made.answer

    def make(self, patient: dict[str, Any], args: dict[str, Any], today: dt.date,
             made_ms: int | None = None) -> Made:
        """Check the form as of `today` (the day she filled it in) and make her record, unless this
        pregnancy has one: then MATCHED (same data) or CONFLICT (the fields that differ, nothing changed)."""
        try:
            lmp = dt.date.fromisoformat(str(args.get("lmp")))
        except ValueError:
            raise bad_request("lmp: want YYYY-MM-DD") from None
        ga_days = (today - lmp).days
        if not 0 <= ga_days <= MAX_GA_DAYS:
            raise ServiceError("bad-lmp", "the last menstrual period must be in the last 44 weeks")
        height = _number(args, "height_cm", 100, 220)
        weight = _number(args, "pre_pregnancy_weight_kg", 30, 200)
        gravidity, parity = _count(args, "gravidity"), _count(args, "parity")
        if parity >= gravidity:
            raise bad_request("parity must be less than gravidity (this pregnancy counts)")
        answers = args.get("screening", {})
        if not isinstance(answers, dict):
            raise bad_request("screening: want a map of item id -> true/false")
        value_bmi = bmi(height, weight)
        facts = {"age_years": age_years(dt.date.fromisoformat(patient["birth_date"]), today),
                 "height_cm": height, "bmi": value_bmi}
        positive = load_rules().positive_items(facts, answers)
        edd = lmp + dt.timedelta(days=PREGNANCY_DAYS)
        record_id = "R" + secrets.token_hex(8)
        body = {DE_LMP: lmp.isoformat(), DE_EDD: edd.isoformat(), DE_GRAVIDITY: gravidity, DE_PARITY: parity,
                DE_HEIGHT_CM: height, DE_WEIGHT_KG: weight, X_BMI: value_bmi, X_GA_DAYS: ga_days,
                X_SCREEN_POSITIVE: bool(positive), X_POSITIVE_ITEMS: list(positive),
                X_ANSWERS: {k: bool(v) for k, v in sorted(answers.items())}}
        key_id, nonce, sealed = self.privacy.seal(f"pregnancy/{record_id}", body)
        with self.db.write():
            self.db.execute(f"SELECT patient_id FROM svc_patients WHERE patient_id = ?{self.db.lock_suffix}",
                            (patient["patient_id"],)).fetchone()  # one pregnancy check at a time per patient
            same = self._same_pregnancy(patient["patient_id"], lmp)
            if same is not None:
                known_id, known = same
                differ = [name for name, key in COMPARED if known.get(key) != body[key]]
                return Made(CONFLICT if differ else MATCHED, known_id, _answer(known_id, patient["patient_id"],
                                                                               known), differ)
            self.db.execute("INSERT INTO svc_pregnancy_records (record_id, patient_id, screen_positive, key_id, nonce,"
                            " body, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (record_id, patient["patient_id"], int(bool(positive)), key_id, nonce, sealed,
                             int(self.clock() * 1000) if made_ms is None else made_ms))
        return Made(NEW, record_id, _answer(record_id, patient["patient_id"], body), [])

    def _same_pregnancy(self, patient_id: str, lmp: dt.date) -> tuple[str, dict[str, Any]] | None:
        """Her record whose LMP is close enough to `lmp` to be this pregnancy (the latest such)."""
        rows = self.db.execute("SELECT record_id, key_id, nonce, body FROM svc_pregnancy_records WHERE patient_id = ?"
                               " ORDER BY created_ms DESC", (patient_id,)).fetchall()
        for record_id, key_id, nonce, sealed in rows:
            known = self.privacy.open(f"pregnancy/{record_id}", key_id, nonce, sealed)
            if abs((dt.date.fromisoformat(known[DE_LMP]) - lmp).days) < SAME_PREGNANCY_DAYS:
                return str(record_id), known
        return None

    def answer(self, record_id: str) -> dict[str, Any]:
        """A record as `pregnancy.create` answered it (the body of its pregnancy-record/1)."""
        rows = self.db.query("SELECT patient_id, key_id, nonce, body FROM svc_pregnancy_records WHERE record_id = ?",
                             (record_id,))
        if not rows:
            raise ServiceError("unknown-record", "no such pregnancy record")
        patient_id, key_id, nonce, sealed = rows[0]
        return _answer(record_id, patient_id, self.privacy.open(f"pregnancy/{record_id}", key_id, nonce, sealed))

    def latest(self, patient_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT record_id, key_id, nonce, body FROM svc_pregnancy_records WHERE patient_id = ?"
                             " ORDER BY created_ms DESC LIMIT 1", (patient_id,))
        if not rows:
            return None
        record_id, key_id, nonce, sealed = rows[0]
        return self.privacy.open(f"pregnancy/{record_id}", key_id, nonce, sealed)  # type: ignore[no-any-return]

    def gestational_age_days(self, patient_id: str) -> int | None:
        record = self.latest(patient_id)
        if record is None:
            return None
        return (self.today() - dt.date.fromisoformat(record[DE_LMP])).days


def _answer(record_id: str, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"record_id": record_id, "patient_id": patient_id, "lmp": body[DE_LMP], "edd": body[DE_EDD],
            "gestational_age_days": body[X_GA_DAYS], "bmi": body[X_BMI], "screen_positive": body[X_SCREEN_POSITIVE],
            "positive_items": list(body[X_POSITIVE_ITEMS])}
