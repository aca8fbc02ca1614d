"""Publish CTG batches, alarms, classification changes and episodes through the link outbox.

The link's `submit` is durable on return, so once a record is accepted here nothing is lost
through a hub or network outage. A record the outbox cannot take now (disk full, locked) is
kept in a bounded retry queue; a record its schema rejects is a station bug: it is counted
and logged, never retried, never allowed to stop acquisition.

When the retry queue is full (a long outbox outage), the oldest CTG batch makes room (alarms,
episodes, classifications and reports go only when no CTG batch is left to drop), and the loss
is never silent: a `loss/1` record ("retry-overflow", counts per schema) goes into the outbox
ahead of the queued records as soon as it accepts again.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Protocol

from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample
from mch_link.errors import LinkError, SchemaError
from mch_link.topics import Kind

log = logging.getLogger(__name__)

CTG_SCHEMA = "ctg/1"
ALARM_SCHEMA = "alarm/1"
EPISODE_SCHEMA = "episode/1"
CLASSIFICATION_SCHEMA = "classification/1"
REPORT_SCHEMA = "ctg-report/1"
LOSS_SCHEMA = "loss/1"
LOSS_EVENT = "retry-overflow"
BATCH_SAMPLES = 40  # 10 s at 4 Hz
RETRY_MAX = 10_000
_PERIOD_MS = 1000 // SAMPLE_HZ


class LinkLike(Protocol):
    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int: ...


@dataclass
class PublisherStats:
    submitted: int = 0
    ctg_batches: int = 0
    rejected: int = 0  # schema violations (bugs), dropped after logging
    retry_queued: int = 0
    retry_overflow: int = 0  # records dropped from a full retry queue, each reported in a loss/1 record
    loss_records: int = 0


class _Batch:
    __slots__ = ("episode_id", "t0_ms", "samples")

    def __init__(self, episode_id: int, t0_ms: int) -> None:
        self.episode_id = episode_id
        self.t0_ms = t0_ms
        self.samples: list[CtgSample] = []

    def next_ms(self) -> int:
        return self.t0_ms + len(self.samples) * _PERIOD_MS


def _compact(v: float | None) -> float | int | None:
    """Whole values as integers: monitors send whole bpm, and CBOR stores a small int in 1-3 bytes."""
    return int(v) if v is not None and v.is_integer() else v


def _channel(samples: list[CtgSample], name: str) -> list[float | int | None]:
    return [_compact(getattr(s, name)) for s in samples]


def ctg_body(bed_id: str, episode_id: int, t0_ms: int, samples: list[CtgSample]) -> dict[str, Any]:
    """The `ctg/1` body of consecutive samples starting at `t0_ms`."""
    body: dict[str, Any] = {"bed": bed_id, "episode_id": episode_id, "t0_ms": t0_ms, "hz": SAMPLE_HZ,
                            "fhr1": _channel(samples, "fhr1_bpm")}
    for key, name in (("fhr2", "fhr2_bpm"), ("mhr", "mhr_bpm"), ("toco", "toco")):
        values = _channel(samples, name)
        if any(v is not None for v in values):
            body[key] = values
    for key in ("movement", "mark"):
        idx = [i for i, s in enumerate(samples) if getattr(s, key)]
        if idx:
            body[key] = idx
    return body


class Publisher:
    def __init__(self, link: LinkLike, batch_samples: int = BATCH_SAMPLES) -> None:
        self._link = link
        self._batch_samples = batch_samples
        self._batches: dict[str, _Batch] = {}
        self._retry: deque[tuple[Kind, str, dict[str, Any], int | None]] = deque()
        self._lost: Counter[str] = Counter()  # dropped since the last loss/1 record, by schema
        self.stats = PublisherStats()

    def add_sample(self, bed_id: str, episode_id: int, sample: CtgSample) -> None:
        t_ms = int(round(sample.t_s * 1000))
        batch = self._batches.get(bed_id)
        if batch is not None and (batch.episode_id != episode_id or batch.next_ms() != t_ms):
            self.flush_bed(bed_id)
            batch = None
        if batch is None:
            batch = self._batches[bed_id] = _Batch(episode_id, t_ms)
        batch.samples.append(sample)
        if len(batch.samples) >= self._batch_samples:
            self.flush_bed(bed_id)

    def flush_bed(self, bed_id: str) -> None:
        batch = self._batches.pop(bed_id, None)
        if batch is not None and batch.samples:
            self.stats.ctg_batches += 1
            self._submit(Kind.CTG, CTG_SCHEMA, ctg_body(bed_id, batch.episode_id, batch.t0_ms, batch.samples),
                         batch.t0_ms)

    def flush_stale(self, now_ms: int, max_age_ms: int) -> None:
        """Send partial batches of beds that went quiet (unplugged, discharged)."""
        for bed_id, batch in list(self._batches.items()):
            if now_ms - batch.next_ms() > max_age_ms:
                self.flush_bed(bed_id)

    def flush_all(self) -> None:
        for bed_id in list(self._batches):
            self.flush_bed(bed_id)

    def episode(self, body: dict[str, Any]) -> None:
        self._submit(Kind.RECORDS, EPISODE_SCHEMA, body, body.get("at_ms"))

    def alarm(self, body: dict[str, Any]) -> None:
        self._submit(Kind.ALARMS, ALARM_SCHEMA, body, body.get("at_ms"))

    def classification(self, body: dict[str, Any]) -> None:
        self._submit(Kind.RECORDS, CLASSIFICATION_SCHEMA, body, body.get("at_ms"))

    def record(self, schema: str, body: dict[str, Any]) -> None:
        """Any other record kind (the county feed's delivery/1, antenatal-visit/1)."""
        self._submit(Kind.RECORDS, schema, body, None)

    def report(self, body: dict[str, Any]) -> None:
        self._submit(Kind.RECORDS, REPORT_SCHEMA, body, body.get("made_ms"))

    def pending_retries(self) -> int:
        return len(self._retry)

    def retry(self) -> None:
        """Offer the loss report, then queued records, to the outbox again, oldest first, until one fails."""
        if self._lost and not self._report_loss():
            return
        while self._retry:
            kind, schema, body, made = self._retry[0]
            try:
                self._link.submit(kind, schema, body, made)
            except SchemaError as exc:
                self.stats.rejected += 1
                log.error("queued record rejected by its schema, dropped: %s", exc)
            except LinkError:
                return
            else:
                self.stats.submitted += 1
            self._retry.popleft()

    def _submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None) -> None:
        if self._retry:  # keep order: nothing overtakes a queued record
            self._queue(kind, schema, body, made_at_ms)
            self.retry()
            return
        try:
            self._link.submit(kind, schema, body, made_at_ms)
        except SchemaError as exc:
            self.stats.rejected += 1
            log.error("record rejected by its schema, not sent: %s", exc)
            return
        except LinkError as exc:
            log.warning("outbox refused a %s record, will retry: %s", schema, exc)
            self._queue(kind, schema, body, made_at_ms)
            return
        self.stats.submitted += 1

    def _report_loss(self) -> bool:
        lost = sum(self._lost.values())
        body = {"event": LOSS_EVENT, "lost": lost, "lost_total": self.stats.retry_overflow,
                "by_schema": dict(sorted(self._lost.items()))}
        try:
            self._link.submit(Kind.ALARMS, LOSS_SCHEMA, body)
        except LinkError:
            return False
        log.error("retry queue overflowed: %d record(s) dropped (%s), reported in a loss/1 record", lost,
                  ", ".join(f"{k} x{n}" for k, n in sorted(self._lost.items())))
        self._lost.clear()
        self.stats.loss_records += 1
        return True

    def _queue(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None) -> None:
        if len(self._retry) >= RETRY_MAX:
            self._drop_one()
        self._retry.append((kind, schema, body, made_at_ms))
        self.stats.retry_queued += 1

    def _drop_one(self) -> None:
        """The oldest CTG batch if there is one (a gap in a trace), else the oldest record."""
        victim = next((i for i, item in enumerate(self._retry) if item[1] == CTG_SCHEMA), 0)
        schema = self._retry[victim][1]
        del self._retry[victim]
        self._lost[schema] += 1
        self.stats.retry_overflow += 1
