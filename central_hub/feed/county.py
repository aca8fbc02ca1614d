"""The county platform's FHIR endpoint as the sender sees it: POST a transaction Bundle, classify the answer.

httpx errors never leave this module: every attempt ends in an `Answer` (accepted, retry or refused).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"
MAX_KEPT_TEXT = 2000


class Verdict(Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"  # network error, timeout, 429, 5xx: try again later
    REFUSED = "refused"  # 4xx: a human must look (dead letter)


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    http_status: int | None
    error: str | None = None
    outcome: dict[str, Any] | None = None  # the server's OperationOutcome, if it sent one
    retry_after_s: float | None = None


class CountyClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout_s, headers={"Accept": FHIR_JSON})

    def post_transaction(self, body: bytes) -> Answer:
        try:
            response = self._http.post(self.base_url, content=body, headers={"Content-Type": FHIR_JSON})
        except httpx.TimeoutException as exc:
            return Answer(Verdict.RETRY, None, f"timeout ({exc.__class__.__name__})")
        except httpx.HTTPError as exc:
            return Answer(Verdict.RETRY, None, f"network error ({exc.__class__.__name__}: {exc})"[:MAX_KEPT_TEXT])
        return classify(response.status_code, response.content, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._http.close()


def classify(status: int, content: bytes, retry_after: str | None) -> Answer:
    doc = _json(content)
    outcome = doc if isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome" else None
    if 200 <= status < 300:
        if not (isinstance(doc, dict) and doc.get("resourceType") == "Bundle"
                and doc.get("type") == "transaction-response"):
            return Answer(Verdict.RETRY, status, "2xx without a transaction-response Bundle")
        return Answer(Verdict.ACCEPTED, status)
    text = _outcome_text(outcome) or content[:MAX_KEPT_TEXT].decode("utf-8", "replace")
    if status == 429 or status >= 500:
        return Answer(Verdict.RETRY, status, f"HTTP {status}: {text}"[:MAX_KEPT_TEXT], outcome,
                      _seconds(retry_after))
    return Answer(Verdict.REFUSED, status, f"HTTP {status}: {text}"[:MAX_KEPT_TEXT], outcome)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def _outcome_text(outcome: dict[str, Any] | None) -> str | None:
    if outcome is None:
        return None
    issues = outcome.get("issue") or []
    parts = [str(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code", "")) for i in issues
             if isinstance(i, dict)]
    return "; ".join(p for p in parts if p) or None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff
