"""Exports by sqlite-utils (the quarantine, the indicators) compared with files written out by hand,
on SQLite and PostgreSQL hubs; `mch-hub inspect` on a hub database and a device outbox."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from central_hub import cli, indicators
from central_hub.datakey import load_or_create
from central_hub.store import Store, open_store
from mch_link.envelope import Record
from mch_link.outbox import Outbox
from mch_link.topics import Kind
from tests.central_hub.feed import records as fed
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, inbound
from tests.central_hub.test_indicators import A, commit_population, woman

GARBAGE = b"\xa1not cose"
WHEN = "2026-09-21T14:13:20.000Z"  # NOW_MS = 1,790,000,000 s after the epoch
HEADER = "id,reason,device_id,topic,schema_id,msg_id,seen,first_at,last_at,first_at_ms,last_at_ms,detail"


def fill_quarantine(store: Store) -> None:
    """Item 1: a message that is no envelope; item 2: a booking held as schema-invalid (record 7)."""
    rig = Rig(store, [entry("kiosk-001")])
    rig.ingestor.process([inbound("mch/v1/kiosk-001/rec", GARBAGE)])
    bad = {**fed.booking(random.Random(1), 1), "ga_days": "ten weeks"}
    rig.one(*FakeDevice(rig.registry["kiosk-001"]).seal([Record(7, bad, NOW_MS)], Kind.RECORDS, "antenatal-booking/1"))


def expected_rows() -> list[dict[str, object]]:
    digest = hashlib.sha256(GARBAGE).hexdigest()[:16]
    common = {"device_id": "kiosk-001", "topic": "mch/v1/kiosk-001/rec", "seen": 1, "first_at": WHEN, "last_at": WHEN,
              "first_at_ms": NOW_MS, "last_at_ms": NOW_MS}
    return [
        {"id": 1, "reason": "malformed", **common, "schema_id": None, "msg_id": None,
         "detail": f"not CBOR of the link: string longer than the input at byte 2 [sha256 {digest}]"},
        {"id": 2, "reason": "schema-invalid", **common, "schema_id": "antenatal-booking/1", "msg_id": 7,
         "detail": "1 record(s) held, ids 7..7; first: antenatal-booking/1: /ga_days violates properties/ga_days/type"},
    ]


def test_quarantine_export_csv_json_and_sqlite(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill_quarantine(store)
    digest = hashlib.sha256(GARBAGE).hexdigest()[:16]
    want_csv = [HEADER,
                f"1,malformed,kiosk-001,mch/v1/kiosk-001/rec,,,1,{WHEN},{WHEN},{NOW_MS},{NOW_MS},"
                f"not CBOR of the link: string longer than the input at byte 2 [sha256 {digest}]",
                f"2,schema-invalid,kiosk-001,mch/v1/kiosk-001/rec,antenatal-booking/1,7,1,{WHEN},{WHEN},{NOW_MS},{NOW_MS},"
                '"1 record(s) held, ids 7..7; first: antenatal-booking/1: /ga_days violates properties/ga_days/type"']
    base = ["quarantine-export", "--db", store.url]

    assert cli.main([*base, "--format", "csv", "--out", str(tmp_path / "q.csv")]) == cli.EXIT_OK
    assert (tmp_path / "q.csv").read_text(encoding="utf-8").splitlines() == want_csv

    assert cli.main([*base, "--format", "json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == expected_rows()

    assert cli.main([*base, "--format", "json", "--reason", "schema-invalid"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == expected_rows()[1:]

    assert cli.main([*base, "--format", "sqlite", "--out", str(tmp_path / "q.db")]) == cli.EXIT_OK
    with sqlite3.connect(tmp_path / "q.db") as conn:
        conn.row_factory = sqlite3.Row
        got = [dict(r) for r in conn.execute("SELECT * FROM quarantine ORDER BY id")]
        pk = [r[1] for r in conn.execute("PRAGMA table_info(quarantine)") if r[5]]
    assert got == [{k: r[k] for k in HEADER.split(",")} for r in expected_rows()] and pk == ["id"]
    assert cli.main([*base, "--format", "sqlite"]) == cli.EXIT_ERROR  # a file is needed
    assert "--out" in capsys.readouterr().err


def test_indicator_csv_of_one_woman_as_counted_by_hand(store: Store, tmp_path: Path) -> None:
    state = tmp_path / "state"
    one = woman(1, A, 70, [100, 150, 200, 250])  # booked at 70 d, 4 visits, delivered 2026-05-01 in a facility
    fed.commit(store, load_or_create(state), one)
    args = SimpleNamespace(year=2026, start=None, end=None, site=tmp_path, state_dir=state, by_area=False,
                           format="csv", out=tmp_path / "i.csv", sqlite=tmp_path / "i.db")
    assert indicators.main(args, store.url) == 0
    period = "all,2025-10-01,2026-09-30"
    want = [
        "indicator,name_zh,area,start,end,numerator,denominator,value,unit,numerator_definition,denominator_definition",
        f"early_booking_rate,早孕建册率,{period},1,1,100.0,%,women booked before 13 weeks,live births",
        f"antenatal_check_rate,产前检查率,{period},1,1,100.0,%,women with >= 1 antenatal check,live births",
        f"antenatal_5_checks_rate,孕产妇健康管理率,{period},1,1,100.0,%,women with >= 5 antenatal checks,live births",
        f"systematic_management_rate,孕产妇系统管理率,{period},1,1,100.0,%,"
        "early booking + >= 5 checks + facility delivery + postpartum visit <= 28 d,live births",
        f"hospital_delivery_rate,住院分娩率,{period},1,1,100.0,%,live births in a facility,live births",
        f"postpartum_visit_rate,产后访视率,{period},1,1,100.0,%,women with a postpartum visit <= 28 d,live births",
        f"high_risk_rate,高危产妇比例,{period},0,1,0.0,%,women delivered graded orange/red/purple,women delivered",
        f"screen_positive_rate,妊娠风险筛查阳性率,{period},0,1,0.0,%,pregnancies booked graded other than green,"
        "pregnancies booked",
        f"checks_first_trimester,孕早期检查次数,{period},1,1,1.0,per woman,checks at GA < 13 w,women delivered",
        f"checks_second_trimester,孕中期检查次数,{period},2,1,2.0,per woman,checks at GA 13-27+6 w,women delivered",
        f"checks_third_trimester,孕晚期检查次数,{period},2,1,2.0,per woman,checks at GA >= 28 w,women delivered",
    ]
    assert (tmp_path / "i.csv").read_text(encoding="utf-8").splitlines() == want
    with sqlite3.connect(tmp_path / "i.db") as conn:
        assert conn.execute("SELECT numerator, denominator, value FROM indicators WHERE indicator ="
                            " 'checks_second_trimester'").fetchone() == (2, 1, 2.0)

    args.format, args.out, args.sqlite = "json", tmp_path / "i.json", None
    assert indicators.main(args, store.url) == 0
    doc = json.loads((tmp_path / "i.json").read_text(encoding="utf-8"))
    assert [(d["indicator"], d["numerator"], d["denominator"], d["value"]) for d in doc][:2] == [
        ("early_booking_rate", 1, 1, 100.0), ("antenatal_check_rate", 1, 1, 100.0)]
    assert doc[0]["name_zh"] == "早孕建册率"  # not escaped to \\u


def test_inspect_a_hub_database_and_a_device_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    fill_quarantine(store)
    commit_population(store, load_or_create(tmp_path / "state"))
    records_stored = store.record_count()
    store.close()
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.add_many("rec", "sim/1", [({"seq": i, "fhr_bpm": [140], "toco": [10]}, None) for i in range(3)])
    outbox.close()
    before = (tmp_path / "hub.db").stat().st_mtime_ns

    assert cli.main(["inspect", str(tmp_path / "hub.db"), str(tmp_path / "outbox.db"), "--json"]) == cli.EXIT_OK
    hub, box = json.loads(capsys.readouterr().out)
    tables = {t["name"]: t for t in hub["tables"]}
    assert tables["records"]["rows"] == records_stored > 0 and tables["quarantine"]["rows"] == 2
    assert tables["records"]["pk"] == ["id"] and "schema_id" in [c["name"] for c in tables["quarantine"]["columns"]]
    assert {"name": "feed_outbox_enqueue", "table": "records"} in hub["triggers"]
    assert hub["journal_mode"] == "wal"
    assert sum(t["rows"] for t in box["tables"] if t["name"] == "outbox") == 3
    assert (tmp_path / "hub.db").stat().st_mtime_ns == before  # opened read-only

    assert cli.main(["inspect", str(tmp_path / "hub.db")]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "journal wal" in text and "quarantine" in text
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert cli.main(["inspect", str(tmp_path / "junk.db")]) == cli.EXIT_ERROR
    assert "not a readable SQLite database" in capsys.readouterr().err
