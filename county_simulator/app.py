"""The simulator's HTTP face (Starlette via FastAPI, served by uvicorn).

    POST /fhir                      a transaction Bundle -> transaction-response | OperationOutcome
    GET  /fhir/<Type>[?identifier=system|value]   searchset Bundle of what is kept
    GET  /fhir/metadata             CapabilityStatement (R4)
    POST /_admin/faults             {"mode": "ok|reject|429|503|timeout", "count": n, "delay_s": s}
    GET  /_admin/stats              what was received, created and matched, per resource type
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from county_simulator.faults import Faults, Mode
from county_simulator.store import CountyStore
from county_simulator.transaction import ACCEPTED_TYPES, Refusal, operation_outcome, process

FHIR_JSON = "application/fhir+json"


def _fhir(doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status, headers=headers, media_type=FHIR_JSON)


def make_app(store: CountyStore, faults: Faults) -> FastAPI:
    app = FastAPI(title="county FHIR simulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/fhir")
    async def transaction(request: Request) -> Response:
        fault = faults.next()
        if fault.mode is Mode.TOO_MANY:
            return _fhir(operation_outcome("throttled", "too many requests"), 429,
                         {"Retry-After": str(fault.retry_after_s)})
        if fault.mode is Mode.UNAVAILABLE:
            return _fhir(operation_outcome("transient", "platform unavailable"), 503)
        if fault.mode is Mode.REJECT:
            return _fhir(operation_outcome("business-rule", "rejected by the platform (test instruction)"), 422)
        try:
            bundle = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _fhir(operation_outcome("structure", "body is not JSON"), 400)
        try:
            answer = await run_in_threadpool(process, store, bundle)
        except Refusal as exc:
            return _fhir(exc.outcome(), exc.status)
        if fault.mode is Mode.SLOW:
            await asyncio.sleep(fault.delay_s)  # stored already: the client times out and resends
        return _fhir(answer)

    @app.get("/fhir/metadata")
    async def metadata() -> Response:
        return _fhir({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                      "fhirVersion": "4.0.1", "format": ["json"], "date": "2026-01-01",
                      "rest": [{"mode": "server", "interaction": [{"code": "transaction"}],
                                "resource": [{"type": t, "conditionalCreate": True, "conditionalUpdate": True}
                                             for t in sorted(ACCEPTED_TYPES)]}]})

    @app.get("/fhir/{rtype}")
    async def search(rtype: str, identifier: str | None = None) -> Response:
        if rtype not in ACCEPTED_TYPES:
            return _fhir(operation_outcome("not-supported", f"{rtype} is not kept here"), 404)
        system, _, value = identifier.partition("|") if identifier else (None, "", None)
        with store.lock:
            found = store.search(rtype, system, value)
        return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                      "entry": [{"resource": r} for r in found]})

    @app.post("/_admin/faults")
    async def set_faults(request: Request) -> Response:
        try:
            doc = json.loads(await request.body())
            faults.set(Mode(doc["mode"]), doc.get("count"), float(doc.get("delay_s", 5.0)),
                       int(doc.get("retry_after_s", 1)))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": f"want {{mode, count?, delay_s?}}: {exc}"}, 400)
        return JSONResponse({"mode": doc["mode"]})

    @app.get("/_admin/stats")
    async def stats() -> Response:
        return JSONResponse({**store.counts(), "served": dict(faults.served)})

    return app
