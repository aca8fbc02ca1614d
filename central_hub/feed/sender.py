"""The relay: pending outbox rows -> validated transaction Bundles -> the county, in order.

One step takes the oldest pending rows in id order and sends them, up to 20 records per
transaction. The first retryable failure (network, timeout, 429, 5xx) ends the step and holds
the head of the queue until its backoff has passed, so records reach the county in the order
they were committed. A refusal (4xx; a merged transaction is split to find the record refused)
or a Bundle that is not valid FHIR R4 goes to the dead letters with the reason and does not
block the rows behind it. Results of a step are written back in one
transaction after it; a sender killed before that resends those rows, which the county's
conditional create/update turns into no-ops (no duplicate).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cbor2

from central_hub.datakey import DataCipher, DataKeyError
from central_hub.feed import outbox
from central_hub.feed.backoff import Backoff
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.bundle import merge_bundles
from central_hub.feed.county import Answer, CountyClient, Verdict
from central_hub.feed.mapping import EPISODE, MappingError, Skip, Source, to_bundle
from central_hub.feed.outbox import DEAD, PENDING, SENT, SKIPPED, OutboxRow, Result
from central_hub.feed.validate import InvalidResource, resource_count, validate_bundle
from central_hub.store.base import Store
from central_hub.store.model import record_aad

log = logging.getLogger(__name__)


def payload_aad(device_id: str, msg_id: int) -> bytes:
    return f"feed/{device_id}/{msg_id}".encode()


@dataclass(frozen=True)
class _Ready:
    row: OutboxRow
    attempts: int
    body: bytes
    resources: int
    fresh_seal: tuple[int, bytes, bytes] | None  # to keep with the row, when built in this attempt


@dataclass
class StepReport:
    sent: int = 0
    resources: int = 0
    dead: int = 0
    skipped: int = 0
    retry_at_ms: int | None = None  # the head of the queue waits until then
    lags_ms: list[int] = field(default_factory=list)  # committed -> accepted, per sent row

    @property
    def idle(self) -> bool:
        return self.sent + self.dead + self.skipped == 0


class FeedSender:
    def __init__(self, store: Store, cipher: DataCipher, blind_index: BlindIndex, site_id: str,
                 county: CountyClient, backoff: Backoff | None = None, batch: int = 100,
                 clock_ms: Callable[[], int] | None = None, per_bundle: int = 20,
                 patient_index: Callable[[str], str | None] | None = None) -> None:
        self.store = store
        self.cipher = cipher
        self.blind_index = blind_index
        self.site_id = site_id
        self.county = county
        self.backoff = backoff or Backoff()
        self.batch = batch
        self.per_bundle = max(1, per_bundle)
        self.patient_index = patient_index or (lambda _patient_id: None)
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._http = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-http")

    def step(self) -> StepReport:
        """Send the oldest pending rows in order, up to `per_bundle` records merged into one transaction
        (one round trip for many records: the county may be far away), one transaction in flight: the
        next is built and validated while the county works on the previous one, whose answer is awaited
        before the next is sent, so the order holds. A merged transaction the county refuses is split
        and its records sent one by one, so only the bad one becomes a dead letter."""
        report = StepReport()
        rows = outbox.head(self.store, self.batch)
        now = self.clock_ms()
        if rows and rows[0].next_attempt_ms > now:
            report.retry_at_ms = rows[0].next_attempt_ms
            return report
        results: list[Result] = []
        links: list[tuple[str, int, str]] = []
        meta: dict[str, str] = {}
        in_flight: tuple[list[_Ready], Future[Answer]] | None = None
        chunk: list[_Ready] = []
        go_on = True
        for row in rows:
            ready = self._prepare(row, links)
            if isinstance(ready, Result):
                self._count(report, row, ready, results, meta)
                continue
            chunk.append(ready)
            if len(chunk) < self.per_bundle:
                continue
            if in_flight is not None and not self._finish(*in_flight, report, results, meta):
                in_flight, go_on = None, False
                break
            in_flight, chunk = (chunk, self._http.submit(self.county.post_transaction, _merge(chunk))), []
        if go_on and in_flight is not None:
            go_on = self._finish(*in_flight, report, results, meta)
        if go_on and chunk:
            self._finish(chunk, self._http.submit(self.county.post_transaction, _merge(chunk)), report, results, meta)
        if results:
            outbox.save(self.store, results, links, meta)
        return report

    def _finish(self, chunk: list[_Ready], future: Future[Answer], report: StepReport, results: list[Result],
                meta: dict[str, str]) -> bool:
        """The answer to one transaction, for each of its records; False when the step must stop (retry)."""
        answer = future.result()
        if answer.verdict is Verdict.REFUSED and len(chunk) > 1:
            log.info("county refused a transaction of %d records; sending them one by one", len(chunk))
            for ready in chunk:
                single = self._conclude(ready, self._http.submit(self.county.post_transaction, ready.body), meta)
                if not self._count(report, ready.row, single, results, meta):
                    return False
            return True
        retry_at = None  # one wait for the whole transaction, from its oldest record's attempts
        if answer.verdict is Verdict.RETRY:
            retry_at = self.clock_ms() + int(self.backoff.delay_s(chunk[0].attempts, answer.retry_after_s) * 1000)
        go_on = True
        for ready in chunk:
            result = self._result(ready, answer, meta, retry_at)
            go_on = self._count(report, ready.row, result, results, meta) and go_on
        return go_on

    def close(self) -> None:
        self._http.shutdown(wait=True)

    @staticmethod
    def _count(report: StepReport, row: OutboxRow, result: Result, results: list[Result],
               meta: dict[str, str]) -> bool:
        """Record one row's result; False when it is to be retried (the step ends there)."""
        results.append(result)
        if result.status == SENT:
            report.sent += 1
            report.resources += result.resources or 0
            report.lags_ms.append(max(0, (result.sent_at_ms or 0) - row.queued_at_ms))
        elif result.status == DEAD:
            report.dead += 1
        elif result.status == SKIPPED:
            report.skipped += 1
        else:  # retry: hold the head of the queue
            report.retry_at_ms = result.next_attempt_ms
            meta["next_attempt_ms"] = str(result.next_attempt_ms)
            return False
        return True

    def _prepare(self, row: OutboxRow, links: list[tuple[str, int, str]]) -> _Ready | Result:
        """The exact bytes to send for a row (built and sealed on its first attempt, kept after)."""
        attempts = row.attempts + 1
        if row.sealed is None:
            built = self._build(row, links)
            if isinstance(built, Result):
                return built
            key_id, nonce, ct = self.cipher.seal(payload_aad(row.device_id, row.msg_id), built[0])
            return _Ready(row, attempts, built[0], built[1], (key_id, nonce, ct))
        try:
            body = self.cipher.open(*row.sealed[:2], row.sealed[2], payload_aad(row.device_id, row.msg_id))
        except DataKeyError as exc:
            return Result(row.id, DEAD, attempts, error=f"kept Bundle does not open: {exc}")
        return _Ready(row, attempts, body, resource_count(json.loads(body)), None)

    def _conclude(self, ready: _Ready, future: Future[Answer], meta: dict[str, str]) -> Result:
        return self._result(ready, future.result(), meta)

    def _result(self, ready: _Ready, answer: Answer, meta: dict[str, str], retry_at_ms: int | None = None) -> Result:
        row, attempts, keep = ready.row, ready.attempts, ready.fresh_seal
        now = self.clock_ms()
        outcome = json.dumps(answer.outcome, ensure_ascii=False) if answer.outcome else None
        if answer.verdict is Verdict.ACCEPTED:
            meta["last_success_ms"] = str(now)
            return Result(row.id, SENT, attempts, http_status=answer.http_status, resources=ready.resources,
                          sent_at_ms=now, sealed=keep)
        meta.update(last_error=answer.error or "", last_error_ms=str(now))
        if answer.verdict is Verdict.REFUSED:
            log.warning("county refused outbox row %d (%s #%d): %s", row.id, row.device_id, row.msg_id, answer.error)
            return Result(row.id, DEAD, attempts, error=answer.error, http_status=answer.http_status,
                          outcome=outcome, sealed=keep)
        if retry_at_ms is None:
            retry_at_ms = now + int(self.backoff.delay_s(attempts, answer.retry_after_s) * 1000)
        log.info("county: %s; outbox row %d retried in %.1f s", answer.error, row.id, (retry_at_ms - now) / 1000)
        return Result(row.id, PENDING, attempts, retry_at_ms, answer.error, answer.http_status, outcome,
                      sealed=keep)

    def _build(self, row: OutboxRow, links: list[tuple[str, int, str]]) -> tuple[bytes, int] | Result:
        """The Bundle of a row, validated; or the row's end (dead: cannot be built / not valid; skipped)."""
        stored = row.record
        if stored is None:
            return Result(row.id, DEAD, row.attempts, error="source record not in the store")
        try:
            body = cbor2.loads(self.cipher.open(stored[0], stored[1], stored[2], record_aad(row.device_id, row.msg_id)))
        except (DataKeyError, cbor2.CBORDecodeError) as exc:
            return Result(row.id, DEAD, row.attempts, error=f"source record does not open: {exc}")
        if row.schema_id == EPISODE and isinstance(body, dict) and body.get("patient_id"):
            links.append((row.device_id, int(body["episode_id"]), str(body["patient_id"])))
        src = Source(self.site_id, row.device_id, row.msg_id, row.queued_at_ms, self.blind_index,
                     self._episode_patient(links), self.patient_index)
        try:
            bundle = to_bundle(row.schema_id, body, src)
            if isinstance(bundle, Skip):
                return Result(row.id, SKIPPED, row.attempts, error=bundle.reason)
            count = validate_bundle(bundle)
        except (MappingError, InvalidResource) as exc:
            log.error("outbox row %d (%s #%d) not sent: %s", row.id, row.device_id, row.msg_id, exc)
            return Result(row.id, DEAD, row.attempts, error=f"not valid FHIR R4: {exc}")
        return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode(), count

    def _episode_patient(self, links: list[tuple[str, int, str]]) -> Callable[[str, int], str | None]:
        def lookup(device_id: str, episode_id: int) -> str | None:
            for d, e, p in reversed(links):  # learnt in this step, not yet saved
                if (d, e) == (device_id, episode_id):
                    return p
            return outbox.ctg_patient(self.store, device_id, episode_id)
        return lookup


def _merge(chunk: list[_Ready]) -> bytes:
    return chunk[0].body if len(chunk) == 1 else merge_bundles([ready.body for ready in chunk])


def run(sender: FeedSender, stop: Any, idle_s: float = 0.2) -> None:
    """Send until `stop` (a threading.Event-like) is set; sleeps while idle or backing off."""
    while not stop.is_set():
        try:
            report = sender.step()
        except Exception:  # the store was unavailable, or a bug: log, wait, go on; nothing is lost
            log.exception("feed step failed; retrying")
            stop.wait(5.0)
            continue
        if report.retry_at_ms is not None:
            stop.wait(max(0.0, min(60.0, (report.retry_at_ms - sender.clock_ms()) / 1000)))
        elif report.idle:
            stop.wait(idle_s)
