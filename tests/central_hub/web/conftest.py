"""Dashboard fixtures: a site with enrolled devices, a hub store fed by the real handler, users.

- `dash_db` -> a fresh hub database, SQLite and PostgreSQL (`hub_db_url`).
- `dash_site` -> Site with kiosk-001, kiosk-002, station-001 enrolled (and hub identity hub-2).
- `feeder` -> Feeder: `.state(device_id, event, **body)` / `.records(device_id, n)` push sealed
  messages through the real handler + store (data key in the site's state directory, as the
  dashboard reads it); `.quarantine_garbage()` lands one item in quarantine.
- `dashboard` -> Dashboard over them with a recording command sender; users alice (operator),
  olga (auditor), adam (admin), all with PASSWORD.
- `client` -> an HTTPS TestClient on the app (the session cookie is Secure); `login(client, user)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.datakey import load_or_create
from central_hub.store import Store, open_store
from central_hub.web.app import create_app
from central_hub.web.services import Dashboard, WebConfig
from mch_link.envelope import Record
from mch_link.registry import load_registry
from mch_link.topics import Kind
from provisioning.devsite import make_dev_site
from provisioning.site import Site
from tests.central_hub.helpers import FakeDevice, Rig, inbound, sim_body

PASSWORD = "correct horse battery staple"
# argon2id with small parameters: the same code path as production, a fraction of its cost per test
# (tests/central_hub/test_users.py holds the production parameters)
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = {"alice": "operator", "olga": "auditor", "adam": "admin"}
DEVICES = {"kiosk-001": "kiosk", "kiosk-002": "kiosk", "station-001": "station"}


class Feeder:
    def __init__(self, store: Store, site_dir: Path) -> None:
        self.rig = Rig(store, list(load_registry(site_dir).values()))
        # the hub's data key in the site's state directory, where the dashboard reads it for a release
        self.rig.cipher = self.rig.handler.cipher = load_or_create(site_dir / DEFAULT_STATE_SUBDIR)
        self.devices = {d: FakeDevice(e) for d, e in self.rig.registry.items()}

    def state(self, device_id: str, event: str, at_ms: int, **body: Any) -> None:
        dev = self.devices[device_id]
        self.rig.one(*dev.state(event, **body), at_ms=at_ms)

    def records(self, device_id: str, first: int, n: int, at_ms: int) -> None:
        dev = self.devices[device_id]
        self.rig.one(*dev.seal([Record(i, sim_body(i), at_ms) for i in range(first, first + n)], Kind.RECORDS),
                     at_ms=at_ms)

    def quarantine_garbage(self, device_id: str = "kiosk-002") -> None:
        self.rig.ingestor.process([inbound(f"mch/v1/{device_id}/rec", b"\xa1not cose")])


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, device_id: str, body: dict[str, Any]) -> None:
        self.sent.append((device_id, body))


@pytest.fixture
def dash_site(tmp_path: Path) -> Site:
    site = make_dev_site(tmp_path / "site", hub_ids=("hub", "hub-2"))
    for device_id, kind in DEVICES.items():
        site.enroll(device_id, kind)
    return site


@pytest.fixture
def dash_db(hub_db_url: str) -> str:
    """SQLite, and PostgreSQL (marked integration): the dashboard's queries run on both."""
    return hub_db_url


@pytest.fixture
def feeder(dash_site: Site, dash_db: str) -> Iterator[Feeder]:
    store = open_store(dash_db)
    yield Feeder(store, dash_site.path)
    store.close()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def dashboard(dash_site: Site, dash_db: str, sender: RecordingSender) -> Iterator[Dashboard]:
    dash = Dashboard(WebConfig(dash_site.path, dash_db, "hub-2"), sender, password_hasher=FAST_ARGON2)
    for name, role in USERS.items():
        dash.users.create(name, role, PASSWORD)
    yield dash
    dash.close()  # also when no app ran (its lifespan closes it too)


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[TestClient]:
    with TestClient(create_app(dashboard), base_url="https://testserver", follow_redirects=False) as c:
        yield c


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/login", data={"username": username, "password": password, "csrf": token})


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]
