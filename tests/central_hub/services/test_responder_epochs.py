"""Issue 10: the request lane's replay windows stay bounded however many boot epochs a device
shows (a hostile enrolled device may pick a new one for every request), and a retired epoch's
requests are refused as stale, on both dialects."""

from __future__ import annotations

import os
import time

import pytest

from central_hub.directory import Directory
from central_hub.services.db import ServicesDb
from central_hub.services.responder import Inbound, Responder
from central_hub.stats import IngestStats
from mch_link import cose, rpc
from mch_link.keys import LinkKeys
from mch_link.topics import Kind, topic
from tests.central_hub.helpers import NOW_MS, entry
from tests.central_hub.services.conftest import DEVICE, Clock, make_dispatcher

NOBODY = {"outpatient_no": "MZ99999999"}


class Kiosk:
    """Seals requests like DeviceLink + RpcClient: one boot epoch per boot, counters from the outbox."""

    def __init__(self, keys: LinkKeys) -> None:
        self.key = rpc.rpc_keys(keys).request
        self.epoch = os.urandom(cose.EPOCH_LEN)
        self.counter = 0

    def boot(self) -> None:
        self.epoch = os.urandom(cose.EPOCH_LEN)

    def request(self, sealed_ms: int, counter: int | None = None) -> Inbound:
        if counter is None:
            counter, self.counter = self.counter, self.counter + 1
        corr = os.urandom(16)
        payload = rpc.seal_request(self.key, DEVICE, counter, "patient.find", corr, NOBODY, None, sealed_ms,
                                   self.epoch)
        return Inbound(topic(DEVICE, Kind.REQUEST), payload, corr, topic(DEVICE, Kind.RESPONSE))


@pytest.fixture
def lane(services_db: ServicesDb, clock: Clock) -> tuple[Responder, Kiosk, IngestStats]:
    keys = LinkKeys.generate(DEVICE)
    stats = IngestStats()
    responder = Responder(Directory.from_entries({DEVICE: entry(DEVICE, keys=keys)}), services_db,
                          make_dispatcher(services_db, clock), stats, clock=clock)
    return responder, Kiosk(keys), stats


def _rows(db: ServicesDb) -> int:
    return int(db.query("SELECT COUNT(*) FROM svc_rpc_epochs")[0][0])


def test_a_thousand_epochs_leave_one_row(lane: tuple[Responder, Kiosk, IngestStats],
                                         services_db: ServicesDb) -> None:
    responder, kiosk, stats = lane
    for i in range(1000):  # a new epoch for every request, as a hostile device may do
        kiosk.boot()
        assert responder.answer(kiosk.request(NOW_MS + i)) is not None
    assert stats.get("rpc_answered") == 1000
    assert _rows(services_db) <= 2  # was one row per (device, epoch): 1,000


def test_a_retired_epoch_is_refused_as_stale(lane: tuple[Responder, Kiosk, IngestStats]) -> None:
    responder, kiosk, stats = lane
    first = [kiosk.request(NOW_MS + i) for i in range(3)]  # epoch A
    assert responder.answer(first[0]) is not None and responder.answer(first[1]) is not None
    kiosk.boot()  # epoch B: A becomes the previous epoch and keeps its window
    second = kiosk.request(NOW_MS + 1000)
    assert responder.answer(second) is not None
    assert responder.answer(first[2]) is not None  # A's request in flight over the boot: still answered
    assert responder.answer(first[0]) is None and stats.get("rpc_refused_replay") == 1
    kiosk.boot()  # epoch C retires A
    assert responder.answer(kiosk.request(NOW_MS + 2000)) is not None
    for replayed in first:  # a broker operator replays A's captured requests, answered or not
        assert responder.answer(replayed) is None
    assert stats.get("rpc_refused_stale") == 3
    assert responder.answer(second) is None  # B, now the previous epoch, still knows its counters
    assert stats.get("rpc_refused_replay") == 2
    assert stats.get("rpc_answered") == 5


def test_a_restored_outbox_under_a_new_epoch_is_answered(lane: tuple[Responder, Kiosk, IngestStats]) -> None:
    responder, kiosk, stats = lane
    for i in range(5):
        assert responder.answer(kiosk.request(NOW_MS + i)) is not None
    for boot in range(3):  # the backup restored again and again: counters from 0 each time
        kiosk.boot()
        assert responder.answer(kiosk.request(NOW_MS + 1000 * (boot + 1), counter=0)) is not None
    assert stats.get("rpc_refused_replay") == stats.get("rpc_refused_stale") == 0


def test_windows_of_an_earlier_version_are_replaced(hub_db_url: str, clock: Clock) -> None:
    db = ServicesDb(hub_db_url)
    blob = "BLOB" if hub_db_url.startswith("sqlite") else "BYTEA"
    with db.write():
        db.execute("DROP TABLE svc_rpc_epochs")
        db.execute(f"CREATE TABLE svc_rpc_windows (device_id TEXT PRIMARY KEY, high BIGINT NOT NULL,"
                   f" bitmap {blob} NOT NULL)")
        for key in (f"{DEVICE}/00112233aabbccdd", f"{DEVICE}/99887766aabbccdd", DEVICE):
            db.execute("INSERT INTO svc_rpc_windows VALUES (?, ?, ?)", (key, 7, b"\x01" * 128))
    db.close()
    db = ServicesDb(hub_db_url)  # the new version opens it
    try:
        assert _rows(db) == 1
        exists = ("SELECT name FROM sqlite_master WHERE name = ?" if db.sqlite else
                  "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                  " AND table_name = ?")
        assert db.query(exists, ("svc_rpc_epochs",)) and not db.query(exists, ("svc_rpc_windows",))
        keys = LinkKeys.generate(DEVICE)
        responder = Responder(Directory.from_entries({DEVICE: entry(DEVICE, keys=keys)}), db,
                              make_dispatcher(db, clock), IngestStats(), clock=clock)
        kiosk = Kiosk(keys)
        assert responder.answer(kiosk.request(NOW_MS)) is None  # sealed before the upgrade: no window knows it
        assert responder.answer(kiosk.request(int(time.time() * 1000) + 60_000)) is not None
    finally:
        db.close()
