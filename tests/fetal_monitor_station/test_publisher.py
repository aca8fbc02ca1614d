from __future__ import annotations

from typing import Any

from fetal_monitor_station.publisher import CTG_SCHEMA, Publisher, ctg_body
from fetal_monitor_station.trace import CtgSample
from mch_link.errors import SchemaError
from mch_link.topics import Kind
from tests.fetal_monitor_station.helpers import FakeLink, steady

T0 = 1_800_000_000.0


def test_batches_of_consecutive_samples_validate_against_ctg_1() -> None:
    link = FakeLink()
    pub = Publisher(link, batch_samples=40)
    for s in steady(100, t0_s=T0):
        pub.add_sample("bed-01", 7, s)
    assert len(link.of(CTG_SCHEMA)) == 2
    pub.flush_all()
    bodies = link.of(CTG_SCHEMA)
    assert [len(b["fhr1"]) for b in bodies] == [40, 40, 20]
    assert [b["t0_ms"] for b in bodies] == [int(T0 * 1000) + i * 10_000 for i in range(3)]
    assert "fhr2" not in bodies[0] and bodies[0]["mhr"][0] == 85.0
    assert bodies[0]["movement"] == [0, 37] and bodies[0]["mark"] == [0]
    assert all(r[0] is Kind.CTG and r[3] == r[2]["t0_ms"] for r in link.records)


def test_a_gap_or_a_new_episode_starts_a_new_batch() -> None:
    link = FakeLink()
    pub = Publisher(link)
    pub.add_sample("bed-01", 1, CtgSample(T0, 140.0))
    pub.add_sample("bed-01", 1, CtgSample(T0 + 0.25, 141.0))
    pub.add_sample("bed-01", 1, CtgSample(T0 + 5, 142.0))  # gap
    pub.add_sample("bed-01", 2, CtgSample(T0 + 5.25, 143.0))  # new episode
    pub.flush_stale(int((T0 + 5.25) * 1000) + 60_000, 5_000)
    assert [(b["episode_id"], b["fhr1"]) for b in link.of(CTG_SCHEMA)] == \
        [(1, [140.0, 141.0]), (1, [142.0]), (2, [143.0])]


def test_outbox_failure_is_retried_in_order_and_nothing_is_lost() -> None:
    link = FakeLink()
    pub = Publisher(link, batch_samples=4)
    link.fail = True
    for s in steady(12, t0_s=T0):
        pub.add_sample("bed-01", 1, s)
    pub.alarm({"alarm_id": "a1", "bed": "bed-01", "episode_id": 1, "event": "raised", "kind": "bradycardia",
               "at_ms": 1})
    assert link.records == [] and pub.pending_retries() == 4
    link.fail = False
    pub.retry()
    assert pub.pending_retries() == 0
    assert [r[1] for r in link.records] == [CTG_SCHEMA] * 3 + ["alarm/1"]
    assert [r[2]["t0_ms"] for r in link.records[:3]] == [int(T0 * 1000) + i * 1000 for i in range(3)]


class RejectingLink:
    def __init__(self) -> None:
        self.calls = 0

    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        self.calls += 1
        raise SchemaError(f"{schema}: bad")


def test_schema_rejections_are_counted_not_retried() -> None:
    link = RejectingLink()
    pub = Publisher(link)
    pub.episode({"event": "opened"})
    pub.retry()
    assert pub.stats.rejected == 1 and link.calls == 1 and pub.pending_retries() == 0


def test_ctg_body_omits_absent_channels() -> None:
    body = ctg_body("bed-09", 3, 0, [CtgSample(0, None), CtgSample(0.25, 120.0, 121.0)])
    assert body == {"bed": "bed-09", "episode_id": 3, "t0_ms": 0, "hz": 4, "fhr1": [None, 120.0],
                    "fhr2": [None, 121.0]}
