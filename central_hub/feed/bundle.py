"""FHIR transaction Bundles whose resend cannot create anything twice.

Every resource carries a business identifier (a hospital's record number, the record id plus
the LOINC code, ...). An entry is sent either as a *conditional create*
(``POST Observation`` with ``ifNoneExist: identifier=<system>|<value>``: the server creates it
once and answers 200 with the existing one afterwards) or, for the resource a record is the
source of truth for (the pregnancy record's Patient and EpisodeOfCare), as a *conditional
update* (``PUT Patient?identifier=<system>|<value>``: created if none, replaced if one).
References between entries use ``urn:uuid:`` full URLs derived from the identifier (uuid5),
so the same record always gives the same Bundle, byte for byte.
"""

from __future__ import annotations

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

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def full_url(self) -> str:
        return full_url(self.resource_type, self.system, self.value)

    @property
    def search(self) -> str:
        return f"identifier={quote(self.system, safe=':')}|{quote(self.value, safe='')}"

    def to_json(self) -> dict[str, Any]:
        if self.upsert:
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
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.full_url not in seen or (e.upsert and not seen[e.full_url].upsert):
            seen[e.full_url] = e
    return {"resourceType": "Bundle", "type": "transaction", "entry": [e.to_json() for e in seen.values()]}
