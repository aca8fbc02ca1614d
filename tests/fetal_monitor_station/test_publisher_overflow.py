"""A full retry queue (a long outbox outage) drops CTG batches first, never silently: a loss/1
record reaches the outbox ahead of the queued records. Before, the oldest records (alarms
included) were dropped after 10,000 with only a counter."""

from __future__ import annotations

from fetal_monitor_station.publisher import ALARM_SCHEMA, CTG_SCHEMA, LOSS_SCHEMA, RETRY_MAX, Publisher
from fetal_monitor_station.trace import CtgSample
from mch_link.topics import Kind
from tests.fetal_monitor_station.helpers import FakeLink

T0_MS = 1_800_000_000_000
EXTRA = 25


def alarm_body(i: int) -> dict[str, object]:
    return {"bed": "bed-01", "episode_id": 1, "alarm_id": f"a{i + 1}", "kind": "bradycardia", "severity": "high",
            "event": "raised", "at_ms": T0_MS + i}


def fill(pub: Publisher, n_ctg: int, n_alarms: int) -> None:
    for i in range(n_alarms):
        pub.alarm(alarm_body(i))
    for i in range(n_ctg):
        pub.add_sample("bed-01", 1, CtgSample((T0_MS + i * 60_000) / 1000, 140.0))
        pub.flush_bed("bed-01")


def test_overflow_drops_ctg_first_and_reports_the_loss() -> None:
    link = FakeLink()
    link.fail = True
    pub = Publisher(link)
    fill(pub, n_ctg=RETRY_MAX - 100 + EXTRA, n_alarms=100)
    assert pub.pending_retries() == RETRY_MAX
    assert pub.stats.retry_overflow == EXTRA
    link.fail = False
    pub.retry()
    kind, schema, body, _ = link.records[0]
    assert (kind, schema) == (Kind.ALARMS, LOSS_SCHEMA)
    assert body == {"event": "retry-overflow", "lost": EXTRA, "lost_total": EXTRA, "by_schema": {CTG_SCHEMA: EXTRA}}
    assert len(link.of(ALARM_SCHEMA)) == 100  # every alarm kept
    assert len(link.of(CTG_SCHEMA)) == RETRY_MAX - 100
    assert pub.pending_retries() == 0 and pub.stats.loss_records == 1


def test_alarms_go_only_when_no_ctg_is_left_and_the_loss_says_so() -> None:
    link = FakeLink()
    link.fail = True
    pub = Publisher(link)
    fill(pub, n_ctg=0, n_alarms=RETRY_MAX + 3)
    link.fail = False
    pub.retry()
    loss = link.of(LOSS_SCHEMA)
    assert loss == [{"event": "retry-overflow", "lost": 3, "lost_total": 3, "by_schema": {ALARM_SCHEMA: 3}}]
    assert link.of(ALARM_SCHEMA)[0]["alarm_id"] == "a4"  # the three oldest were the ones dropped


def test_the_loss_report_waits_for_the_outbox_like_everything_else() -> None:
    link = FakeLink()
    link.fail = True
    pub = Publisher(link)
    fill(pub, n_ctg=RETRY_MAX + 1, n_alarms=0)
    pub.retry()  # still failing: nothing lost twice, the report kept
    assert link.records == [] and pub.stats.loss_records == 0
    link.fail = False
    pub.alarm(alarm_body(0))  # a new record triggers the drain: the report first, order kept
    assert [r[1] for r in link.records[:2]] == [LOSS_SCHEMA, CTG_SCHEMA]
    assert link.records[-1][1] == ALARM_SCHEMA
