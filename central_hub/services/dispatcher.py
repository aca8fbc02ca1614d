"""The front-end processor's services behind one request dispatcher, with idempotency.

A method that changes something needs an idempotency key. The first request with a key
reserves it, runs, and keeps its answer (sealed: it may hold personal data); a retry with
the same key and the same arguments gets that answer again, the same key with other
arguments is refused (`idempotency-conflict`), and a retry while the first still runs waits
for it. An unexpected error frees the key, so a retry runs again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from central_hub.services.bindings import CardBindings
from central_hub.services.cardholder import CardholderCheck
from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError
from central_hub.services.gateway import AcquirerGateway
from central_hub.services.patients import PatientIndex
from central_hub.services.payments import Payments
from central_hub.services.pregnancy import PregnancyRecords
from central_hub.services.privacy import Privacy
from central_hub.services.schedule import Schedule, recommended_visit_code

log = logging.getLogger(__name__)

IN_PROGRESS_WAIT_S = 15.0
POLL_S = 0.05
Answer = tuple[bool, Any]  # (ok, result) or (False, {"code": .., "message": ..})


@dataclass(frozen=True)
class Method:
    run: Callable[[dict[str, Any]], Any]
    changes: bool


class Dispatcher:
    def __init__(self, db: ServicesDb, privacy: Privacy, gateway: AcquirerGateway | None,
                 timetable: dict[str, Any] | None = None, clock: Callable[[], float] = time.time,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.db, self.privacy, self.clock = db, privacy, clock
        self.patients = PatientIndex(db, privacy, clock)
        self.records = PregnancyRecords(db, privacy, self.patients, today, clock)
        self.cardholder = CardholderCheck(db, privacy, gateway, clock)
        self.bindings = CardBindings(db, clock, self.cardholder.require)
        self.schedule = Schedule(db, timetable, clock)
        self.payments = Payments(db, self.schedule, gateway, clock)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.methods: dict[str, Method] = {
            "patient.find": Method(self.patients.find, False),
            "patient.register": Method(self.patients.register, True),
            "pregnancy.create": Method(self.records.create, True),
            "card.bind": Method(lambda a: self.bindings.bind(self._patient(a), a), True),
            "card.verify_pin": Method(self._verify_pin, True),
            "card.unbind": Method(lambda a: self.bindings.unbind(self._patient(a), str(a.get("binding_id")),
                                                                 a.get("verification")), True),
            "card.list": Method(lambda a: self.bindings.list(self._patient(a)), False),
            "schedule.recommended": Method(self._recommended, False),
            "schedule.free_slots": Method(self.schedule.free_slots, False),
            "booking.hold": Method(lambda a: self.schedule.hold(self._patient(a), str(a.get("slot_id"))), True),
            "booking.release": Method(lambda a: self.schedule.release(str(a.get("booking_id"))), True),
            "payment.pay": Method(self.payments.pay, True),
        }

    def _patient(self, args: dict[str, Any]) -> str:
        patient_id = args.get("patient_id")
        if not isinstance(patient_id, str) or not self.patients.exists(patient_id):
            raise ServiceError("unknown-patient", "no such patient")
        return patient_id

    def _verify_pin(self, args: dict[str, Any]) -> dict[str, Any]:
        patient_id = self._patient(args)
        if args.get("binding_id") is not None:  # unbinding: only the card of that binding
            self.bindings.check_card(patient_id, str(args["binding_id"]), args.get("card_token"))
        return self.cardholder.verify(patient_id, args)

    def _recommended(self, args: dict[str, Any]) -> str | None:
        ga = self.records.gestational_age_days(self._patient(args))
        return None if ga is None else recommended_visit_code(ga)

    # -- dispatch -----------------------------------------------------------------------
    def handle(self, device_id: str, method_name: str, args: dict[str, Any], idem: str | None) -> Answer:
        method = self.methods.get(method_name)
        if method is None:
            return False, {"code": "unknown-method", "message": f"no method {method_name!r}"}
        if not method.changes:
            return self._run(method, args)
        if idem is None:
            return False, {"code": "bad-request", "message": f"{method_name} needs an idempotency key"}
        with self._lock_for(device_id, idem):
            return self._idempotent(device_id, method_name, method, args, idem)

    def _run(self, method: Method, args: dict[str, Any]) -> Answer:
        try:
            return True, method.run(args)
        except ServiceError as exc:
            return False, {"code": exc.code, "message": exc.message}

    def _lock_for(self, device_id: str, idem: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault((device_id, idem), threading.Lock())

    def _idempotent(self, device_id: str, name: str, method: Method, args: dict[str, Any], idem: str) -> Answer:
        args_mac = self.privacy.blind_index("rpc", json.dumps([name, args], sort_keys=True, ensure_ascii=False))
        aad = f"idem/{device_id}/{idem}"
        deadline = time.monotonic() + IN_PROGRESS_WAIT_S
        while True:
            with self.db.write():
                row = self.db.execute("SELECT method, args_mac, key_id, nonce, answer FROM svc_idempotency"
                                      f" WHERE device_id = ? AND idem_key = ?{self.db.lock_suffix}",
                                      (device_id, idem)).fetchone()
                if row is None:
                    self.db.execute("INSERT INTO svc_idempotency (device_id, idem_key, method, args_mac, key_id,"
                                    " nonce, answer, created_ms) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                                    (device_id, idem, name, args_mac, b"", b"", int(self.clock() * 1000)))
                    break
            if row[0] != name or row[1] != args_mac:
                return False, {"code": "idempotency-conflict", "message": "this key was used for another request"}
            if int(row[2]) != 0:
                stored = self.privacy.open(aad, row[2], row[3], row[4])
                return bool(stored[0]), stored[1]
            if time.monotonic() >= deadline:  # another worker still runs it
                return False, {"code": "in-progress", "message": "the same request is still being processed"}
            time.sleep(POLL_S)
        try:
            answer = self._run(method, args)
        except Exception:
            with self.db.write():
                self.db.execute("DELETE FROM svc_idempotency WHERE device_id = ? AND idem_key = ?", (device_id, idem))
            raise
        key_id, nonce, sealed = self.privacy.seal(aad, list(answer))
        with self.db.write():
            self.db.execute("UPDATE svc_idempotency SET key_id = ?, nonce = ?, answer = ? WHERE device_id = ? AND"
                            " idem_key = ?", (key_id, nonce, sealed, device_id, idem))
        return answer


