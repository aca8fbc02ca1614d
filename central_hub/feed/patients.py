"""The county blind index of a hub patient, read from the services' patient index at feed time.

The services compute it when a patient enters the index (central_hub/services/privacy.py): the
ID number itself is never kept, so this is the only place the feed can get it for a record that
names the patient only by the hub's patient id (the kiosk's pregnancy record, a station's visit).
"""

from __future__ import annotations

from pathlib import Path

from central_hub.errors import StoreError
from central_hub.services.db import services_db_url
from central_hub.store import SQLITE_PREFIX, Store, open_store

CACHE_MAX = 100_000


class PatientIndexLookup:
    """patient id -> county blind index, or None (not a hub patient, or not indexed yet)."""

    def __init__(self, db_url: str, state_dir: Path) -> None:
        self.url = services_db_url(db_url, state_dir)
        self._store: Store | None = None
        self._known: dict[str, str] = {}  # found indexes never change; "not found" is asked again

    def __call__(self, patient_id: str) -> str | None:
        if patient_id in self._known:
            return self._known[patient_id]
        store = self._open()
        if store is None:
            return None
        try:
            rows = store.read("SELECT county_index FROM svc_patients WHERE patient_id = ?", (patient_id,))
        except StoreError:  # no services tables (the hub runs without services): no index
            return None
        if not rows or not rows[0][0]:
            return None
        if len(self._known) >= CACHE_MAX:
            self._known.clear()
        self._known[patient_id] = str(rows[0][0])
        return self._known[patient_id]

    def _open(self) -> Store | None:
        if self._store is None:
            if self.url.startswith(SQLITE_PREFIX) and not Path(self.url[len(SQLITE_PREFIX):]).exists():
                return None  # no services database (yet): never create one from the feed
            self._store = open_store(self.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
