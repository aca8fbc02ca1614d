"""Backup and restore keep the hospital services' own SQLite file (patient index, records, queued
registrations): a hospital that loses its disk keeps its patients too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central_hub import backup, datakey
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from central_hub.store import open_store
from tests.central_hub.services.conftest import synthetic_id

PERSON = {"id_number": synthetic_id("11010519930505002"), "name": "周测试", "sex": "2", "birth_date": "1993-05-05"}


def test_the_services_file_comes_back_with_its_patients(tmp_path: Path) -> None:
    state, new_state = tmp_path / "state", tmp_path / "new-state"
    cipher = datakey.load_or_create(state)
    open_store(f"sqlite:///{state / 'hub.db'}").close()
    db = ServicesDb(f"sqlite:///{state / 'services.db'}")
    ok, patient = Dispatcher(db, Privacy(cipher), None).handle("kiosk-001", "patient.register", PERSON, "k-1")
    assert ok, patient
    db.close()
    m = backup.backup(f"sqlite:///{state / 'hub.db'}", state, tmp_path / "b", tmp_path / "keys")
    assert m.services_counts is not None and m.services_counts["svc_patients"] == 1
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["services_sha256"] == m.services_sha256
    backup.restore(tmp_path / "b", f"sqlite:///{new_state / 'hub.db'}", new_state, tmp_path / "keys")
    db = ServicesDb(f"sqlite:///{new_state / 'services.db'}")
    found = Dispatcher(db, Privacy(datakey.load(new_state / datakey.KEY_FILE)), None).patients.find(
        {"id_number": PERSON["id_number"]})
    db.close()
    assert found is not None and found["patient_id"] == patient["patient_id"] and found["name"] == "周测试"


def test_a_damaged_services_copy_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    datakey.load_or_create(state)
    open_store(f"sqlite:///{state / 'hub.db'}").close()
    ServicesDb(f"sqlite:///{state / 'services.db'}").close()
    backup.backup(f"sqlite:///{state / 'hub.db'}", state, tmp_path / "b", tmp_path / "keys")
    with (tmp_path / "b" / "services.db").open("r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    with pytest.raises(backup.BackupError, match="services.db: SHA-256 differs"):
        backup.restore(tmp_path / "b", f"sqlite:///{tmp_path / 'n' / 'hub.db'}", tmp_path / "n", tmp_path / "keys")
