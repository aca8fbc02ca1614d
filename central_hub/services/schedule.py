"""Antenatal schedule, clinic slots (seeded from data/timetable.json), holds and fees.

A booking is held for `hold_minutes` until paid; a hold past its time no longer counts against
the slot's capacity and is marked released the next time bookings are touched.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request

HELD, PAID, RELEASED = "held", "paid", "released"
DAY_S = 86400


def _data(name: str) -> Any:
    return json.loads((resources.files("central_hub.services") / "data" / name).read_text("utf-8"))


@cache
def antenatal_visits() -> tuple[dict[str, Any], ...]:
    return tuple(_data("antenatal-schedule.json")["visits"])


def recommended_visit_code(ga_days: int) -> str | None:
    """The first visit of the national schedule whose window has not passed at `ga_days`."""
    weeks = ga_days // 7
    for visit in antenatal_visits():
        if weeks <= visit["to_week"]:
            return str(visit["code"])
    return None


class Schedule:
    def __init__(self, db: ServicesDb, timetable: dict[str, Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.clock = db, clock
        self.timetable = timetable or _data("timetable.json")
        self.tz = dt.timezone(dt.timedelta(hours=self.timetable["timezone_offset_hours"]))
        self.hold_s = int(self.timetable["hold_minutes"]) * 60

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def seed(self) -> int:
        """Insert the timetable's slots for the coming days (idempotent); returns how many are new."""
        tt = self.timetable
        today = dt.datetime.fromtimestamp(self.clock(), self.tz).date()
        rows = []
        for offset in range(int(tt["days_ahead"])):
            day = today + dt.timedelta(days=offset)
            for session in tt["sessions"]:
                if day.isoweekday() not in session["weekdays"]:
                    continue
                for hhmm in session["times"]:
                    hour, minute = (int(x) for x in hhmm.split(":"))
                    starts = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
                    for visit in session["visits"]:
                        slot_id = f"{visit}-{session['clinic_code']}-{starts:%Y%m%d%H%M}"
                        rows.append((slot_id, visit, session["clinic"], int(starts.timestamp() * 1000),
                                     int(tt["fees_fen"][visit]), int(session["capacity"])))
        with self.db.write():
            before = int(self.db.execute("SELECT count(*) FROM svc_slots").fetchone()[0])
            for row in rows:
                self.db.execute("INSERT INTO svc_slots (slot_id, visit_code, clinic, starts_ms, fee_fen, capacity)"
                                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slot_id) DO NOTHING", row)
            after = int(self.db.execute("SELECT count(*) FROM svc_slots").fetchone()[0])
        return after - before

    def _expire(self) -> None:
        self.db.execute("UPDATE svc_bookings SET status = ? WHERE status = ? AND hold_until_ms < ?",
                        (RELEASED, HELD, self._now_ms()))

    def _slot_dict(self, row: Any, taken: int) -> dict[str, Any]:
        slot_id, visit, clinic, starts_ms, fee, capacity = row
        starts = dt.datetime.fromtimestamp(int(starts_ms) / 1000, self.tz)
        return {"slot_id": slot_id, "visit_code": visit, "clinic": clinic, "starts_at": starts.isoformat(),
                "fee_fen": int(fee), "free": max(int(capacity) - taken, 0)}

    def _taken(self, slot_id: str) -> int:
        rows = self.db.query("SELECT count(*) FROM svc_bookings WHERE slot_id = ? AND (status = ? OR"
                             " (status = ? AND hold_until_ms >= ?))", (slot_id, PAID, HELD, self._now_ms()))
        return int(rows[0][0])

    def free_slots(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        visit = args.get("visit_code")
        days = args.get("days", 14)
        if not isinstance(visit, str) or isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
            raise bad_request("want visit_code and days 1..60")
        now = self._now_ms()
        with self.db.write():
            self._expire()
            rows = self.db.execute("SELECT slot_id, visit_code, clinic, starts_ms, fee_fen, capacity FROM svc_slots"
                                   " WHERE visit_code = ? AND starts_ms > ? AND starts_ms <= ? ORDER BY starts_ms",
                                   (visit, now, now + days * DAY_S * 1000)).fetchall()
            slots = [self._slot_dict(r, self._taken(r[0])) for r in rows]
        return [s for s in slots if s["free"] > 0]

    def hold(self, patient_id: str, slot_id: str) -> dict[str, Any]:
        now = self._now_ms()
        with self.db.write():
            self._expire()
            row = self.db.execute("SELECT slot_id, visit_code, clinic, starts_ms, fee_fen, capacity FROM svc_slots"
                                  f" WHERE slot_id = ?{self.db.lock_suffix}", (slot_id,)).fetchone()
            if row is None:
                raise ServiceError("unknown-slot", "no such slot")
            if int(row[3]) <= now:
                raise ServiceError("slot-past", "this slot has already begun")
            if self._taken(slot_id) >= int(row[5]):
                raise ServiceError("slot-full", "this slot has just been taken; choose another")
            mine = self.db.execute("SELECT 1 FROM svc_bookings WHERE patient_id = ? AND slot_id = ? AND (status = ? OR"
                                   " (status = ? AND hold_until_ms >= ?))",
                                   (patient_id, slot_id, PAID, HELD, now)).fetchone()
            if mine:
                raise ServiceError("already-booked", "you already have this slot")
            # one held slot per patient and visit: a hold whose answer the kiosk lost, then another slot
            # chosen, must not keep a second slot from other patients until its timeout
            self.db.execute("UPDATE svc_bookings SET status = ? WHERE patient_id = ? AND status = ? AND slot_id IN"
                            " (SELECT slot_id FROM svc_slots WHERE visit_code = ?)", (RELEASED, patient_id, HELD, row[1]))
            booking_id = "B" + secrets.token_hex(8)
            self.db.execute("INSERT INTO svc_bookings (booking_id, patient_id, slot_id, status, hold_until_ms, fee_fen,"
                            " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (booking_id, patient_id, slot_id, HELD, now + self.hold_s * 1000, int(row[4]), now))
        return self.booking(booking_id)

    def booking(self, booking_id: str) -> dict[str, Any]:
        rows = self.db.query("SELECT b.booking_id, b.patient_id, b.status, b.hold_until_ms, b.fee_fen, s.slot_id,"
                             " s.visit_code, s.clinic, s.starts_ms, s.fee_fen, s.capacity FROM svc_bookings b"
                             " JOIN svc_slots s ON s.slot_id = b.slot_id WHERE b.booking_id = ?", (booking_id,))
        if not rows:
            raise ServiceError("unknown-booking", "no such booking")
        r = rows[0]
        status = RELEASED if r[2] == HELD and int(r[3]) < self._now_ms() else r[2]
        taken = self._taken(r[5])
        return {"booking_id": r[0], "patient_id": r[1], "status": status,
                "hold_until": dt.datetime.fromtimestamp(int(r[3]) / 1000, self.tz).isoformat(), "fee_fen": int(r[4]),
                "slot": self._slot_dict(r[5:], taken)}

    def release(self, booking_id: str) -> None:
        with self.db.write():
            row = self.db.execute(f"SELECT status FROM svc_bookings WHERE booking_id = ?{self.db.lock_suffix}",
                                  (booking_id,)).fetchone()
            if row is None:
                raise ServiceError("unknown-booking", "no such booking")
            if row[0] == PAID:
                raise ServiceError("already-paid", "a paid booking is cancelled at the desk (refund)")
            self.db.execute("UPDATE svc_bookings SET status = ? WHERE booking_id = ?", (RELEASED, booking_id))

    def claim_for_payment(self, booking_id: str, amount_fen: int) -> dict[str, Any]:
        """Check that `booking_id` is held, in time and costs `amount_fen` (before charging)."""
        booking = self.booking(booking_id)
        if booking["status"] == PAID:
            raise ServiceError("already-paid", "this booking is already paid")
        if booking["status"] != HELD:
            raise ServiceError("hold-expired", "the hold on this slot has ended; book again")
        if booking["fee_fen"] != amount_fen:
            raise ServiceError("amount-mismatch", f"the fee is {booking['fee_fen']} fen")
        return booking

    def mark_paid(self, booking_id: str) -> None:
        """After an approval: paid even if the hold ran out while the acquirer answered."""
        with self.db.write():
            self.db.execute("UPDATE svc_bookings SET status = ? WHERE booking_id = ?", (PAID, booking_id))
