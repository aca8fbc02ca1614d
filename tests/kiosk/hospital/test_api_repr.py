"""Patient values crossing the hospital boundary keep her name, ID number, address and phone out of
every repr/str, so a log line or a traceback that prints one carries only masked forms."""

from __future__ import annotations

import logging
import random

import pytest

from kiosk.flows.identify import new_patient
from kiosk.hospital.api import NewPatient, Patient
from kiosk.idcard.identity import mask_id_number
from kiosk.idcard.synthetic import synthetic_identity

PHONE = "13800000000"  # synthetic


def test_new_patient_repr_and_str_carry_only_the_masked_id_number() -> None:
    identity = synthetic_identity(random.Random(12))
    patient = NewPatient(**{**new_patient(identity).__dict__, "phone": PHONE})
    for text in (repr(patient), str(patient), f"{patient}", repr([patient])):
        for secret in (identity.name, identity.id_number, identity.address, PHONE):
            assert secret not in text
        assert mask_id_number(identity.id_number) in text


def test_patient_repr_and_str_hide_her_name(caplog: pytest.LogCaptureFixture) -> None:
    identity = synthetic_identity(random.Random(13))
    patient = Patient("P0001", identity.name, "2", identity.birth_date, mask_id_number(identity.id_number),
                      "100001", "8800000001")
    log = logging.getLogger("test.api.repr")
    with caplog.at_level(logging.INFO):
        log.info("found %s", patient)
        log.info("found %r", patient)
    for text in (repr(patient), str(patient), caplog.text):
        assert identity.name not in text and identity.birth_date.isoformat() not in text
        assert "P0001" in text and mask_id_number(identity.id_number) in text
