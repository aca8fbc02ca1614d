"""Process one transaction Bundle as a FHIR server would: validate all, then all or nothing.

Validation uses fhirclient's R4 4.0.1 models (structure, types, formats, unknown elements),
so the hub's own validator (fhir.resources R4B) is checked by a second implementation.
Conditional create (POST + ifNoneExist) and conditional update (PUT Type?identifier=) follow
the FHIR R4 http page: 0 matches -> create (201), 1 -> existing (200) / replaced (200),
more than one -> 412. A conditional patch (PATCH Type?identifier= with a FHIRPath Patch
Parameters, patch.py) applies to the one match, after the creates and updates as the
transaction rules order them (a Patient created in the same Bundle can be patched); no match
-> 404. ``urn:uuid:`` references are rewritten to the ids given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from county_simulator.patch import PatchError, apply
from county_simulator.store import CountyStore

ACCEPTED_TYPES = frozenset({"Patient", "EpisodeOfCare", "Encounter", "Observation", "Condition", "Flag"})


@dataclass
class Refusal(Exception):
    status: int
    code: str  # OperationOutcome issue code
    diagnostics: str

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.code, self.diagnostics)


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


def validate(resource: Any, where: str) -> None:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise Refusal(400, "structure", f"{where}: not a FHIR resource")
    rtype = resource["resourceType"]
    if rtype not in ACCEPTED_TYPES:
        raise Refusal(422, "not-supported", f"{where}: {rtype} is not accepted by this platform")
    try:
        FHIRElementFactory.instantiate(rtype, resource)
    except FHIRValidationError as exc:
        raise Refusal(422, "invalid", f"{where} {rtype}: {' '.join(str(exc).split())[:500]}") from None
    if not resource.get("identifier"):
        raise Refusal(422, "required", f"{where} {rtype}: the platform requires a business identifier")


def _identifier_query(query: str, where: str) -> tuple[str, str]:
    values = parse_qs(query).get("identifier", [])
    if len(values) != 1 or "|" not in values[0]:
        raise Refusal(400, "invalid", f"{where}: want identifier=<system>|<value>")
    system, _, value = values[0].partition("|")
    return system, value


def _rewrite(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v, ids) for k, v in node.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:"):
            if ref not in ids:
                raise Refusal(422, "invalid", f"reference {ref} resolves to no entry of the Bundle")
            out["reference"] = ids[ref]
        return out
    if isinstance(node, list):
        return [_rewrite(v, ids) for v in node]
    return node


def process(store: CountyStore, bundle: Any) -> dict[str, Any]:
    """Returns the transaction-response Bundle, or raises Refusal (nothing stored)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        raise Refusal(400, "structure", "want a Bundle of type transaction")
    entries = bundle.get("entry") or []
    plans, patches = [], []
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        resource, request = entry.get("resource"), entry.get("request") or {}
        method, url = request.get("method"), str(request.get("url", ""))
        if method == "PATCH":
            patches.append((i, *_patch_plan(resource, url, where)))
            continue
        validate(resource, where)
        rtype = resource["resourceType"]
        if method == "POST" and url == rtype and request.get("ifNoneExist"):
            plans.append((i, entry.get("fullUrl"), rtype, "create", _identifier_query(request["ifNoneExist"], where),
                          resource))
        elif method == "PUT" and url.startswith(f"{rtype}?"):
            plans.append((i, entry.get("fullUrl"), rtype, "update", _identifier_query(url.partition("?")[2], where),
                          resource))
        else:
            raise Refusal(422, "business-rule", f"{where}: the platform takes only conditional create, update or patch")
    with store.transaction():
        ids: dict[str, str] = {}
        in_bundle: dict[tuple[str, str, str], str] = {}  # an identifier met earlier in this Bundle
        decided = []
        for i, full_url, rtype, how, (system, value), resource in plans:
            known = _match(store, rtype, system, value) or in_bundle.get((rtype, system, value))
            rid = known or uuid.uuid4().hex
            in_bundle[(rtype, system, value)] = rid
            if full_url:
                ids[full_url] = f"{rtype}/{rid}"
            decided.append((i, rtype, how, known is not None, rid, resource))
        out: dict[int, dict[str, Any]] = {}
        created, matched = 0, 0
        for i, rtype, how, exists, rid, resource in decided:
            if exists:
                matched += 1
            else:
                created += 1
            if exists and how == "create":
                out[i] = {"response": {"status": "200 OK", "location": f"{rtype}/{rid}"}}
                continue
            _, version = store.put(rtype, rid, _rewrite(resource, ids))
            out[i] = {"response": {"status": "200 OK" if exists else "201 Created",
                                   "location": f"{rtype}/{rid}/_history/{version}"}}
        for i, rtype, (system, value), patch, where in patches:
            target = _match(store, rtype, system, value) or in_bundle.get((rtype, system, value))
            current = store.get(rtype, target) if target else None
            if target is None or current is None:
                raise Refusal(404, "not-found", f"{where}: no {rtype}?identifier={system}|{value} to patch")
            try:
                patched = apply(current, patch)
            except PatchError as exc:
                raise Refusal(422, "not-supported", f"{where}: {exc}") from None
            validate(patched, f"{where} (patched)")
            matched += 1
            version = store.version(rtype, target)
            if patched != current:  # a patch that changes nothing makes no new version
                _, version = store.put(rtype, target, patched)
            out[i] = {"response": {"status": "200 OK", "location": f"{rtype}/{target}/_history/{version}"}}
        store.log_transaction(len(entries), created, matched)
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": [out[i] for i in sorted(out)]}


def _match(store: CountyStore, rtype: str, system: str, value: str) -> str | None:
    found = store.find(rtype, system, value)
    if len(found) > 1:
        raise Refusal(412, "multiple-matches", f"{rtype}?identifier={system}|{value} matches {len(found)}")
    return found[0] if found else None


def _patch_plan(patch: Any, url: str, where: str) -> tuple[str, tuple[str, str], dict[str, Any], str]:
    rtype, _, query = url.partition("?")
    if rtype not in ACCEPTED_TYPES or not query:
        raise Refusal(422, "business-rule", f"{where}: want PATCH <type>?identifier=<system>|<value>")
    if not isinstance(patch, dict) or patch.get("resourceType") != "Parameters":
        raise Refusal(422, "not-supported", f"{where}: the platform takes FHIRPath Patch (Parameters) only")
    try:
        FHIRElementFactory.instantiate("Parameters", patch)
    except FHIRValidationError as exc:
        raise Refusal(422, "invalid", f"{where} Parameters: {' '.join(str(exc).split())[:500]}") from None
    return rtype, _identifier_query(query, where), patch, where
