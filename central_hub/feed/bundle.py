"""FHIR transaction Bundles whose resend cannot create anything twice.

Every resource carries a business identifier (a hospital's record number, the record id plus
the LOINC code, ...). An entry is sent either as a *conditional create*
(``POST Observation`` with ``ifNoneExist: identifier=<system>|<value>``: the server creates it
once and answers 200 with the existing one afterwards) or, for the resource a record is the
source of truth for (the pregnancy record's EpisodeOfCare, a CTG session), as a *conditional
update* (``PUT EpisodeOfCare?identifier=<system>|<value>``: created if none, replaced if one).
A Patient is never replaced: many records know a little of her, so each sends a conditional
create with what it knows and, when it knows something she may have been created without (the
county blind index, the HIS's birth date and address), a *conditional patch* (``PATCH
Patient?identifier=...`` with a FHIRPath Patch ``Parameters``: delete that element, add it) that
sets only that, idempotently, and keeps what other records gave (docs/feed.md).
References between entries use ``urn:uuid:`` full URLs derived from the identifier (uuid5),
so the same record always gives the same Bundle, byte for byte.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-5b7a-9d0c-2b1f4e8a7c31")


@dataclass(frozen=True)
class Entry:
    resource: dict[str, Any]
    system: str  # the identifier the server matches on
    value: str
    upsert: bool = False  # True: conditional update (PUT); False: conditional create (POST ifNoneExist)
    patch_of: str | None = None  # a FHIRPath Patch (Parameters) of the resource of this type and identifier

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def full_url(self) -> str:
        if self.patch_of is not None:  # the same patch is the same entry, another patch another one
            what = json.dumps(self.resource, sort_keys=True, ensure_ascii=False)
            return full_url(f"{self.patch_of}-patch", self.system, f"{self.value}|{what}")
        return full_url(self.resource_type, self.system, self.value)

    @property
    def search(self) -> str:
        return f"identifier={quote(self.system, safe=':')}|{quote(self.value, safe='')}"

    def to_json(self) -> dict[str, Any]:
        if self.patch_of is not None:
            request = {"method": "PATCH", "url": f"{self.patch_of}?{self.search}"}
        elif self.upsert:
            request = {"method": "PUT", "url": f"{self.resource_type}?{self.search}"}
        else:
            request = {"method": "POST", "url": self.resource_type, "ifNoneExist": self.search}
        return {"fullUrl": self.full_url, "resource": self.resource, "request": request}


def full_url(resource_type: str, system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource_type}|{system}|{value}')}"


def reference(resource_type: str, system: str, value: str) -> dict[str, str]:
    return {"reference": full_url(resource_type, system, value)}


def identifier(system: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"system": system, "value": value, **extra}


def transaction(entries: list[Entry]) -> dict[str, Any]:
    """A transaction Bundle (all or nothing at the server). Entries with the same identifier are one."""
    seen: dict[str, dict[str, Any]] = {}
    for e in entries:
        _keep(seen, e.to_json())
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(seen.values())}


def merge_bundles(bodies: list[bytes]) -> bytes:
    """The records' Bundles as one transaction, each entry once (see `_keep`), in first-seen order
    (a Patient's create comes before the patches of her)."""
    entries: dict[str, dict[str, Any]] = {}
    for body in bodies:
        for entry in json.loads(body)["entry"]:
            _keep(entries, entry)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries.values())}
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()


def _keep(entries: dict[str, dict[str, Any]], entry: dict[str, Any]) -> None:
    """One entry per fullUrl: a conditional update wins over a create, the latest over an earlier one;
    two creates of one resource become one carrying every identifier of both (so a Patient's blind
    index is not lost because a copy without it came first)."""
    key = entry["fullUrl"]
    seen = entries.get(key)
    if seen is None or entry["request"]["method"] == "PUT":
        entries[key] = entry
    elif seen["request"]["method"] == "POST" and entry["request"]["method"] == "POST":
        have = seen["resource"].get("identifier", [])
        more = [i for i in entry["resource"].get("identifier", []) if i not in have]
        if more:
            entries[key] = {**seen, "resource": {**seen["resource"], "identifier": [*have, *more]}}
