"""Every resource checked against FHIR R4 before it may leave the hub.

Library: `fhir.resources` 8.3 (pinned in the hub extra), its `R4B` models. Why not plain R4: the
maintained line (pydantic v2, the same stack as the dashboard) ships R5 by default and R4B as the
R4-compatible sub-package; no maintained pydantic-v2 R4 package exists (fhir.resources 6.x, the
last plain R4, needs pydantic v1). The resources we send (Patient, EpisodeOfCare, Encounter,
Observation, Condition, Flag, Bundle) did not change between R4 and R4B. `fhirclient` has true
R4 models but is not pinned and validates less (no type patterns). The models check structure,
cardinality, required elements, primitive formats (dates, codes, decimals) and reject unknown
elements; they do not check value-set bindings, so the few required bindings we rely on
(status codes) are checked here too.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

from pydantic import ValidationError

from central_hub.errors import HubError

_MODULES = {"Patient": "patient", "EpisodeOfCare": "episodeofcare", "Encounter": "encounter",
            "Observation": "observation", "Condition": "condition", "Flag": "flag", "Bundle": "bundle",
            "OperationOutcome": "operationoutcome", "Parameters": "parameters"}  # Parameters: a PATCH's body
# required bindings (R4): the status values our resources may carry
_STATUS = {"Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                           "entered-in-error", "unknown"},
           "EpisodeOfCare": {"planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"},
           "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                         "entered-in-error", "unknown"},
           "Flag": {"active", "inactive", "entered-in-error"}}


class InvalidResource(HubError):
    """A resource is not valid FHIR R4 (the text names the element, never its value)."""


@cache
def model(resource_type: str) -> Any:
    name = _MODULES.get(resource_type)
    if name is None:
        raise InvalidResource(f"resource type {resource_type!r} is not one the feed sends")
    return getattr(import_module(f"fhir.resources.R4B.{name}"), resource_type)


def validate_resource(resource: dict[str, Any]) -> None:
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        raise InvalidResource("no resourceType")
    try:
        model(kind).model_validate(resource)
    except ValidationError as exc:
        raise InvalidResource(f"{kind}: {_where(exc)}") from None
    status = resource.get("status")
    if kind in _STATUS and status not in _STATUS[kind]:
        raise InvalidResource(f"{kind}.status: not in the required value set")


def resource_count(bundle: dict[str, Any]) -> int:
    """The resources a Bundle sends: its entries but the patches (a patch sets part of a resource
    another entry of the Bundle also carries), so resources/s counts what the county keeps."""
    return sum(1 for e in bundle.get("entry") or [] if (e.get("request") or {}).get("method") != "PATCH")


def validate_bundle(bundle: dict[str, Any]) -> int:
    """Check each entry's resource, then the Bundle itself; returns the number of resources."""
    entries = bundle.get("entry") or []
    for i, entry in enumerate(entries):
        try:
            validate_resource(entry["resource"])
        except (KeyError, TypeError):
            raise InvalidResource(f"Bundle.entry[{i}]: no resource") from None
        except InvalidResource as exc:
            raise InvalidResource(f"Bundle.entry[{i}] {exc}") from None
    try:
        model("Bundle").model_validate({**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                                             for e in entries]})
    except ValidationError as exc:
        raise InvalidResource(f"Bundle: {_where(exc)}") from None
    return resource_count(bundle)


def _where(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc or '(root)'}: {err.get('type', 'invalid')}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
