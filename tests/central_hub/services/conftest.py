"""Services fixtures: a Dispatcher on a fresh database of each dialect, with a clock the test moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from central_hub.datakey import DataCipher
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.gateway import AcquirerGateway
from central_hub.services.privacy import Privacy

START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Thursday
DEVICE = "kiosk-001"


@dataclass
class Clock:
    now: float = START.timestamp()

    def __call__(self) -> float:
        return self.now

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now, START.tzinfo).date()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services_db(hub_db_url: str) -> Iterator[ServicesDb]:
    db = ServicesDb(hub_db_url)
    yield db
    db.close()


def make_dispatcher(db: ServicesDb, clock: Clock, gateway: AcquirerGateway | None = None) -> Dispatcher:
    d = Dispatcher(db, Privacy(DataCipher.generate()), gateway, clock=clock, today=clock.today)
    d.schedule.seed()
    return d


@pytest.fixture
def dispatcher(services_db: ServicesDb, clock: Clock) -> Dispatcher:
    return make_dispatcher(services_db, clock)


def call(d: Dispatcher, method: str, args: dict, idem: str | None = None):  # noqa: ANN201
    """The result, or raise AssertionError with the refusal."""
    ok, result = d.handle(DEVICE, method, args, idem)
    assert ok, result
    return result


def refusal(d: Dispatcher, method: str, args: dict, idem: str | None = None) -> str:
    ok, result = d.handle(DEVICE, method, args, idem)
    assert not ok, result
    return str(result["code"])


def synthetic_id(first17: str) -> str:
    """A synthetic ID number with its GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
