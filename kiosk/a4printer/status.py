"""Printer and job state from IPP attributes (RFC 8011): pure parsing, no CUPS calls.

``printer-state-reasons`` keywords carry a severity suffix (``-report``, ``-warning``, ``-error``)
that CUPS adds or keeps from the remote printer; the kiosk cares about the reason itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

SEVERITY_SUFFIXES = ("-report", "-warning", "-error")
REASON_NONE = "none"
OFFLINE_REASONS = frozenset({"offline", "timed-out", "connecting-to-device"})
PAPER_REASONS = frozenset({"media-empty", "media-needed"})
FAULT_REASONS = frozenset({"media-jam", "door-open", "cover-open", "input-tray-missing", "output-area-full",
                           "marker-supply-empty", "toner-empty", "paused", "shutdown", "spool-area-full"})


class PrinterState(IntEnum):
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


class JobState(IntEnum):
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def terminal(self) -> bool:
        return self >= JobState.CANCELED


def normalise_reasons(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else list(raw or ())
    out: list[str] = []
    for item in items:
        reason = str(item)
        for suffix in SEVERITY_SUFFIXES:
            if reason.endswith(suffix):
                reason = reason[: -len(suffix)]
                break
        if reason and reason != REASON_NONE and reason not in out:
            out.append(reason)
    return tuple(out)


@dataclass(frozen=True)
class PrinterStatus:
    queue: str
    state: PrinterState
    reasons: tuple[str, ...]
    message: str
    accepting: bool
    device_uri: str = ""

    @property
    def offline(self) -> bool:
        return bool(OFFLINE_REASONS.intersection(self.reasons))

    @property
    def out_of_paper(self) -> bool:
        return bool(PAPER_REASONS.intersection(self.reasons))

    @property
    def faults(self) -> tuple[str, ...]:
        return tuple(r for r in self.reasons if r in FAULT_REASONS)

    @property
    def ready(self) -> bool:
        return (self.accepting and self.state != PrinterState.STOPPED and not self.offline
                and not self.out_of_paper and not self.faults)

    def describe(self) -> str:
        reasons = ", ".join(self.reasons) or "none"
        text = f"{self.state.name.lower()}, reasons: {reasons}"
        if self.message:
            text += f", message: {self.message!r}"
        return text if self.accepting else text + ", not accepting jobs"


@dataclass(frozen=True)
class JobStatus:
    job_id: int
    state: JobState
    reasons: tuple[str, ...]
    message: str


def _state(enum: type[PrinterState] | type[JobState], value: Any, default: int) -> Any:
    try:
        return enum(int(value))
    except (TypeError, ValueError):
        return enum(default)


def parse_printer_attributes(queue: str, attrs: Mapping[str, Any]) -> PrinterStatus:
    return PrinterStatus(
        queue=queue,
        state=_state(PrinterState, attrs.get("printer-state"), PrinterState.STOPPED),
        reasons=normalise_reasons(attrs.get("printer-state-reasons")),
        message=str(attrs.get("printer-state-message") or ""),
        accepting=bool(attrs.get("printer-is-accepting-jobs", False)),
        device_uri=str(attrs.get("device-uri") or ""),
    )


def parse_job_attributes(job_id: int, attrs: Mapping[str, Any]) -> JobStatus:
    return JobStatus(
        job_id=job_id,
        state=_state(JobState, attrs.get("job-state"), JobState.PENDING),
        reasons=normalise_reasons(attrs.get("job-state-reasons")),
        message=str(attrs.get("job-state-message") or attrs.get("job-printer-state-message") or ""),
    )
