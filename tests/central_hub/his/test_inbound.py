"""The HIS inbound interface: checked, stored once through the record store, queued for the county."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import cbor2
import pytest

from central_hub import indicators
from central_hub.datakey import DataCipher
from central_hub.feed import outbox
from central_hub.his.inbound import HIS_DEVICE, HisInbound, HisRecordError, parse
from central_hub.store import Store
from central_hub.store.model import record_aad
from tests.central_hub.feed import records


def line(schema: str, body: dict[str, Any]) -> str:
    return json.dumps({"schema": schema, "record": body}, ensure_ascii=False)


def woman(n: int) -> list[str]:
    """Booking at 70 d, five checks, a delivery at 275 d in a facility, a postpartum visit at 7 d."""
    delivered = dt.date(2026, 5, 1)
    booked = delivered - dt.timedelta(days=275 - 70)
    out = [line("antenatal-booking/1", records.booking(random.Random(n), n, registered=booked, ga_days=70))]
    out += [line("antenatal-visit/1", records.visit(n, k, ga_days=g)) for k, g in enumerate([100, 150, 200, 250])]
    out.append(line("delivery/1", records.delivery(n, day=delivered, ga_days=275,
                                                   postpartum=delivered + dt.timedelta(days=7))))
    return out


def stored(store: Store, cipher: DataCipher) -> list[tuple[str, dict[str, Any]]]:
    rows = store.read("SELECT msg_id, schema_id, key_id, nonce, body FROM records WHERE device_id = ? ORDER BY msg_id",
                      (HIS_DEVICE,))
    return [(r[1], cbor2.loads(cipher.open(r[2], bytes(r[3]), bytes(r[4]), record_aad(HIS_DEVICE, int(r[0])))))
            for r in rows]


def test_records_are_stored_once_queued_for_the_county_and_counted(store: Store) -> None:
    cipher = DataCipher.generate()
    lines = woman(1) + woman(2)
    got = HisInbound(store, cipher).take(lines)
    assert [o.status for o in got] == ["stored"] * 12
    kept = stored(store, cipher)
    assert [b for _, b in kept] == [json.loads(t)["record"] for t in lines]  # as sent, in order
    assert outbox.feed_status(store)["pending"] == 12  # the feed's trigger took every one
    again = HisInbound(store, cipher).take(lines)  # the HIS sends the file again
    assert [o.status for o in again] == ["already-stored"] * 12
    assert len(stored(store, cipher)) == 12 and outbox.feed_status(store)["pending"] == 12
    year = indicators.statistical_year(2026)
    by_id = {r.indicator: r for r in indicators.compute(indicators.load(store, cipher), *year)}
    assert by_id["systematic_management_rate"].numerator == 2  # both women, from the HIS's records
    assert by_id["systematic_management_rate"].denominator == 2


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "not JSON (Expecting property name enclosed in double quotes at column 2)"),
    ('{"schema": "antenatal-visit/1"}', 'want an object {"schema": ..., "record": {...}} and nothing else'),
    ('{"schema": "pregnancy-record/1", "record": {}}',
     "schema: want one of antenatal-booking/1, antenatal-visit/1, delivery/1"),
    (line("delivery/1", {**records.delivery(1), "live_births": 9}), "delivery/1: /live_births violates properties/live_births/maximum"),
    (line("antenatal-visit/1", {**records.visit(1, 1), "visit_date": "2026-02-30"}),
     "antenatal-visit/1: /visit_date is not a real date"),
    (line("antenatal-booking/1", {**records.booking(random.Random(3), 3), "parity": 2}),
     "antenatal-booking/1: /parity must be less than /gravidity (this pregnancy counts)"),
])
def test_a_bad_record_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(HisRecordError) as refused:
        parse(text)
    assert str(refused.value) == reason


def test_bad_records_are_refused_and_nothing_of_them_is_stored(store: Store) -> None:
    cipher = DataCipher.generate()
    good = records.booking(random.Random(4), 4)
    wrong_check = {**good, "record_id": "R9", "id_number": good["id_number"][:17]
                   + ("1" if good["id_number"][17] != "1" else "2")}
    got = HisInbound(store, cipher).take([line("antenatal-booking/1", wrong_check), "",
                                          line("antenatal-booking/1", good),
                                          line("antenatal-booking/1", {**good, "height_cm": 150.0})])
    assert [(o.line, o.status) for o in got] == [(1, "refused"), (3, "stored"), (4, "refused")]
    assert got[0].reason == "antenatal-booking/1: /id_number fails the GB 11643 check digit or birth date"
    assert got[2].reason == ("antenatal-booking/1 record_id R000004 was received before with other content:"
                             " corrections are not taken by import")
    assert good["id_number"] not in json.dumps([o.reason for o in got])  # a reason never holds a value
    assert [b for _, b in stored(store, cipher)] == [good]
    assert outbox.feed_status(store)["pending"] == 1
