"""Patient index: find by ID number (blind index), medical-card number or outpatient number;
self-registration. Name, birth date, address and phone are sealed at rest; the ID number is
kept only as its blind index and a masked copy (first 6, last 4)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from typing import Any

from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request
from central_hub.services.privacy import Privacy

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
CARD_NO_RE = re.compile(r"^[0-9A-Z]{4,20}$")
SEX_CODES = frozenset({"0", "1", "2", "9"})
OUTPATIENT_PREFIX = "66"  # digits only, as the medical card: the kiosk's keypad types 6..16 digits
MEDICAL_CARD_PREFIX = "8800"  # digits only: the kiosk's keypad types 8..20 digits
MAX_TEXT = 100
IDENTITY_FIELDS = ("name", "sex", "birth_date")  # read from the ID card's chip: a difference is worth a look


def id_number_valid(id_number: str) -> bool:
    """GB 11643-1999 (ISO 7064 MOD 11-2) check digit and a real birth date."""
    if not ID_RE.match(id_number):
        return False
    total = sum(int(d) * w for d, w in zip(id_number[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK_CHARS[total % 11] != id_number[17]:
        return False
    try:
        dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return False
    return True


def mask_id_number(id_number: str) -> str:
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def _text(args: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise bad_request(f"{key}: want text of 1..{MAX_TEXT} characters")
    return value.strip()


class PatientIndex:
    def __init__(self, db: ServicesDb, privacy: Privacy, clock: Any = time.time) -> None:
        self.db, self.privacy, self.clock = db, privacy, clock

    def find(self, args: dict[str, Any]) -> dict[str, Any] | None:
        keys = [k for k in ("id_number", "medical_card_no", "outpatient_no") if args.get(k) is not None]
        if len(keys) != 1:
            raise bad_request("give exactly one of id_number, medical_card_no, outpatient_no")
        value = _text(args, keys[0]) or ""
        if keys[0] == "id_number":
            column, value = "id_index", self.privacy.blind_index("id", value.upper())
        else:
            column = keys[0]
            if not CARD_NO_RE.match(value.upper()):
                raise bad_request(f"{keys[0]}: want 4..20 digits or capital letters")
            value = value.upper()
        rows = self.db.query(f"SELECT patient_id, county_index FROM svc_patients WHERE {column} = ?", (value,))
        if not rows:
            return None
        if keys[0] == "id_number" and rows[0][1] is None:
            self._fill_county_index(rows[0][0], (_text(args, "id_number") or "").upper())
        return self.get(rows[0][0])

    def _fill_county_index(self, patient_id: str, id_number: str) -> None:
        """A patient who entered the index before the hub had the county key gets her county index
        the next time she is identified by ID card (the number is never kept, so only then)."""
        county = self.privacy.county_index(id_number)
        if county is not None:
            with self.db.write():
                self.db.execute("UPDATE svc_patients SET county_index = ? WHERE patient_id = ? AND county_index"
                                " IS NULL", (county, patient_id))

    def county_index(self, patient_id: str) -> str | None:
        """The county's blind index of her ID number (the feed's Patient identifier), if known."""
        rows = self.db.query("SELECT county_index FROM svc_patients WHERE patient_id = ?", (patient_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None

    def get(self, patient_id: str) -> dict[str, Any]:
        rows = self.db.query("SELECT outpatient_no, medical_card_no, key_id, nonce, body FROM svc_patients"
                             " WHERE patient_id = ?", (patient_id,))
        if not rows:
            raise ServiceError("unknown-patient", "no such patient")
        outpatient_no, card_no, key_id, nonce, body = rows[0]
        person = self.privacy.open(f"patient/{patient_id}", key_id, nonce, body)
        has_record = bool(self.db.query("SELECT 1 FROM svc_pregnancy_records WHERE patient_id = ? LIMIT 1",
                                        (patient_id,)))
        return {"patient_id": patient_id, "name": person["name"], "sex": person["sex"],
                "birth_date": person["birth_date"], "masked_id_number": person["masked_id_number"],
                "outpatient_no": outpatient_no, "medical_card_no": card_no, "has_pregnancy_record": has_record}

    def exists(self, patient_id: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM svc_patients WHERE patient_id = ?", (patient_id,)))

    def register(self, args: dict[str, Any]) -> dict[str, Any]:
        patient_id, _, _ = self.enter(args)
        return self.get(patient_id)

    def enter(self, args: dict[str, Any]) -> tuple[str, str, list[str]]:
        """Find or add the patient of a registration: (patient id, "new" | "matched" | "conflict", names of
        the fields that differ from the index). The index is never changed by a conflict: a person's data
        that differs is for the desk to look at, not to be merged."""
        id_number = (_text(args, "id_number") or "").upper()
        if not id_number_valid(id_number):
            raise ServiceError("bad-id-number", "the ID number's check digit or birth date is wrong")
        sex = _text(args, "sex")
        if sex not in SEX_CODES:
            raise bad_request("sex: want a GB/T 2261.1 code")
        birth = _text(args, "birth_date") or ""
        try:
            dt.date.fromisoformat(birth)
        except ValueError:
            raise bad_request("birth_date: want YYYY-MM-DD") from None
        person = {"name": _text(args, "name"), "sex": sex, "birth_date": birth,
                  "masked_id_number": mask_id_number(id_number), "nation": _text(args, "nation", False),
                  "address": _text(args, "address", False), "phone": _text(args, "phone", False)}
        index = self.privacy.blind_index("id", id_number)
        county = self.privacy.county_index(id_number)
        with self.db.write():
            found = self.db.execute("SELECT patient_id, key_id, nonce, body, county_index, medical_card_no"
                                    " FROM svc_patients"
                                    f" WHERE id_index = ?{self.db.lock_suffix}", (index,)).fetchone()
            if found:
                patient_id = found[0]
                if found[4] is None and county is not None:
                    self.db.execute("UPDATE svc_patients SET county_index = ? WHERE patient_id = ?",
                                    (county, patient_id))
                if found[5] is None:  # entered before the hub issued card numbers
                    self.db.execute("UPDATE svc_patients SET medical_card_no = ? WHERE patient_id = ?",
                                    (self._new_card_no(), patient_id))
                known = self.privacy.open(f"patient/{patient_id}", found[1], found[2], found[3])
                differ = [k for k in IDENTITY_FIELDS if known.get(k) != person[k]]
                return patient_id, "conflict" if differ else "matched", differ
            patient_id = "P" + secrets.token_hex(8)
            outpatient_no = f"{OUTPATIENT_PREFIX}{self.db.next_number('outpatient'):08d}"
            key_id, nonce, sealed = self.privacy.seal(f"patient/{patient_id}", person)
            self.db.execute("INSERT INTO svc_patients (patient_id, id_index, outpatient_no, medical_card_no,"
                            " key_id, nonce, body, created_ms, county_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (patient_id, index, outpatient_no, self._new_card_no(), key_id, nonce, sealed,
                             int(self.clock() * 1000), county))
        return patient_id, "new", []

    def _new_card_no(self) -> str:
        """The hospital's medical-card number (就诊卡号), issued at registration (inside the caller's write)."""
        return f"{MEDICAL_CARD_PREFIX}{self.db.next_number('medical_card'):08d}"
