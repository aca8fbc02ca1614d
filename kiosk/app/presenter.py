"""The kiosk's presenter: every rule the screens show, no Kivy. Screens read `view` and call the
intent methods; slow work (devices, the hub) runs through `run_async` so the UI never blocks.

`run_async(work, done)` runs `work()` somewhere else and then `done(result)` on the UI thread
(the Kivy app uses a worker thread + Clock; tests run both at once).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from kiosk.app import health as device_health
from kiosk.app.settings import AppSettings
from kiosk.app.strings import label
from kiosk.flows import bankcard as bank
from kiosk.flows import booking as book
from kiosk.flows import payment as payflow
from kiosk.flows import pregnancy as preg
from kiosk.flows import printing
from kiosk.flows.devices import FLOW_NEEDS, DeviceHealth, Devices, Fault
from kiosk.flows.identify import identify_by_card, identify_by_number, read_id_card
from kiosk.flows.leave import leave
from kiosk.flows.messages import Lang, Notice
from kiosk.flows.queue import RecordQueue
from kiosk.flows.register import Answers, preview, register
from kiosk.flows.screening import default_rules
from kiosk.flows.session import IdleTimer, Session
from kiosk.hospital.api import HospitalServices, Slot
from kiosk.idcard.driver import CardRead
from kiosk.receipt.layout import format_fen, mask_name

T = TypeVar("T")
RunAsync = Callable[[Callable[[], Any], Callable[[Any], None]], None]
NUMBER_MAX = 20
REGISTER_FIELDS = ("lmp", "height", "weight", "gravidity", "parity")
DEVICE_TROUBLE = frozenset({"device_fault", "printer_out_before_pay", "receipt_failed", "card_read_failed"})
FIELD_MAX = {"lmp": 8, "height": 5, "weight": 5, "gravidity": 2, "parity": 2}
log = logging.getLogger(__name__)


def run_now(work: Callable[[], Any], done: Callable[[Any], None]) -> None:
    done(work())


@dataclass
class View:
    """Everything a screen shows (already translated; personal data already masked)."""

    screen: str = "home"
    lang: Lang = "zh"
    large_text: bool = False
    message: str = ""
    actions: tuple[str, ...] = ()          # buttons of the message screen (intent names)
    entry: str = ""                       # what is typed on the keypad
    number_kind: str = "medical_card"
    fields: dict[str, str] = field(default_factory=lambda: dict.fromkeys(REGISTER_FIELDS, ""))
    active_field: str = "lmp"
    preview: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    stars: int = 0
    countdown_s: int = 0
    warning: bool = False
    greeting: str = ""
    available: dict[str, bool] = field(default_factory=dict)
    busy: bool = False


class KioskPresenter:
    def __init__(self, services: HospitalServices, devices: Devices, settings: AppSettings, *,
                 health: DeviceHealth | None = None, queue: RecordQueue | None = None, run_async: RunAsync = run_now,
                 voice: Callable[[str, str], None] = lambda text, lang: None,
                 today: Callable[[], dt.date] = dt.date.today, now: Callable[[], dt.datetime] = dt.datetime.now,
                 timer: IdleTimer | None = None) -> None:
        self.services, self.devices, self.settings = services, devices, settings
        self.health = health or DeviceHealth(devices)
        self.queue, self._run_async, self._voice = queue, run_async, voice
        self._today, self._now = today, now
        self.timer = timer or IdleTimer(settings.idle_s, settings.warn_s)
        self.session = Session()
        self.view = View()
        self._listeners: list[Callable[[View], None]] = []
        self._abort = threading.Event()
        self._answers: dict[str, bool] = {}
        self._slots: dict[str, Slot] = {}
        self._pin_attempt = 1
        self._holder_attempt = 0        # > 0 while a signing/unbinding PIN is being asked
        self._holder_binding: str | None = None
        self._card_must_lift = False
        self._refresh_available()

    # --- plumbing -------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[View], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener(self.view)

    def _show(self, screen: str, **changes: Any) -> None:
        changes.setdefault("countdown_s", int(self.timer.remaining_s() + 0.999))
        changes.setdefault("warning", self.timer.warning())
        self.view = replace(self.view, screen=screen, busy=False, **changes)
        self._refresh_available()
        self._changed()

    def _say(self, notice: Notice, *, actions: tuple[str, ...] = ("to_menu",), screen: str = "message") -> None:
        text = notice.text(self.view.lang)
        self._voice(text, self.view.lang)
        self._show(screen, message=text, actions=actions)
        if notice.code in DEVICE_TROUBLE:  # a device failed her mid-visit: probe now, not only after her
            self.check_devices()

    def _work(self, work: Callable[[], T], done: Callable[[T], None]) -> None:
        self.view = replace(self.view, busy=True)
        self._changed()
        self._run_async(work, done)

    def _refresh_available(self) -> None:
        flows = ("identify_card", "sign", "unbind", "pay", "print_receipt", "print_report", "book", "register")
        self.view.available = {f: self.health.available(f) for f in flows}

    def label(self, key: str, **params: str) -> str:
        return label(key, self.view.lang).format(**params)

    def check_devices(self) -> None:
        """Probe every device (between patients); faults disable only the flows that need them."""
        def done(results: dict[str, Fault | None]) -> None:
            device_health.apply(self.health, results)
            self._refresh_available()
            self._changed()
        idle = not self.session.identified and self.session.bank_card is None
        self._run_async(lambda: device_health.probe(self.devices, idle=idle), done)

    # --- chrome: language, text size, idle timer --------------------------------------------
    def set_lang(self, lang: Lang) -> None:
        self.timer.touch()
        self.view = replace(self.view, lang=lang)
        self._retranslate()
        self._changed()

    def toggle_lang(self) -> None:
        self.set_lang("en" if self.view.lang == "zh" else "zh")

    def toggle_large_text(self) -> None:
        self.timer.touch()
        self.view = replace(self.view, large_text=not self.view.large_text)
        self._changed()

    def _retranslate(self) -> None:
        if self.session.patient is not None:
            self.view.greeting = Notice("found", {"name": mask_name(self.session.patient.name)}).text(self.view.lang)
        if self.view.screen == "slots":
            self.view.rows = self._slot_rows(list(self._slots.values()))
        if self.view.screen == "screening":
            self.view.rows = self._question_rows()
        self.view.preview = self._preview_text()  # GA/EDD/BMI under the form, in the language she reads now

    def touched(self) -> None:
        self.timer.touch()

    def more_time(self) -> None:
        self.timer.more_time()
        self.tick()

    def tick(self) -> None:
        """Once a second from the UI clock: countdown, and the wipe when it runs out."""
        if self.view.screen == "home":
            return
        remaining = int(self.timer.remaining_s() + 0.999)
        warning = self.timer.warning()
        if (remaining, warning) != (self.view.countdown_s, self.view.warning):
            self.view = replace(self.view, countdown_s=remaining, warning=warning)
            self._changed()
        if self.timer.expired():
            self.timeout()

    def timeout(self) -> None:
        """Nobody there any more: stop what runs, return her card (or keep it), forget her."""
        self._abort.set()
        session = self.session

        def work() -> None:
            book.release(self.services, session)
            leave(session, self.devices.motor, None, take_card_s=5.0, health=self.health)

        def done(_: None) -> None:
            self._reset(Notice("timeout_wiped"))
        self._work(work, done)

    def _reset(self, notice: Notice | None = None) -> None:
        self.session.wipe()
        self.session = Session()
        self._answers, self._slots, self._pin_attempt = {}, {}, 1
        self._holder_attempt, self._holder_binding = 0, None
        lang, large = self.view.lang, self.view.large_text
        self.view = View(lang=lang, large_text=large)
        if notice is not None:
            self.view.message = notice.text(lang)
        self._show("home")
        self.check_devices()

    def _begin_session(self) -> None:
        self._abort.clear()
        self.timer.more_time(self.settings.idle_s)

    # --- identify ---------------------------------------------------------------------------
    def poll_id_card(self) -> None:
        """From the UI clock while the home screen shows: read the card if one was put down."""
        reader = self.devices.idcard
        if self.view.screen != "home" or self.view.busy or reader is None or not self.health.ok("idcard"):
            return

        def work() -> CardRead | Notice | None:
            return read_id_card(reader)
        self._run_async(work, self._card_read)

    def _card_read(self, read: CardRead | Notice | None) -> None:
        if read is None:
            self._card_must_lift = False
            return
        if self._card_must_lift or self.view.screen != "home":
            return
        self._card_must_lift = True
        if isinstance(read, Notice):
            self._show("home", message=read.text(self.view.lang))
            return
        self._begin_session()
        self._work(lambda: identify_by_card(self.services, self.session, read, self._today(), self.queue),
                   self._identified)

    def _identified(self, result: Any) -> None:
        if result.status == "found":
            self._menu()
        elif result.status == "new":
            self._voice(result.notice.text(self.view.lang), self.view.lang)
            self._show("register", message=result.notice.text(self.view.lang))
        elif result.status == "queued":  # hub down: her identity is kept; her record can be kept too
            self._say(result.notice, actions=("register", "leave"))
        else:
            self._reset(result.notice)

    def open_number_entry(self) -> None:
        self._begin_session()
        self._show("number", entry="", message="")

    def set_number_kind(self, kind: str) -> None:
        self.timer.touch()
        self._show("number", number_kind=kind)

    def key(self, key: str) -> None:
        """On-screen keypad: a digit, '.', 'del' or 'clear' into the number or the active field."""
        self.timer.touch()
        if self.view.screen == "register":
            name = self.view.active_field
            value = _edit(self.view.fields[name], key, FIELD_MAX[name], allow_dot=name in ("height", "weight"))
            self.view.fields = {**self.view.fields, name: value}
            self.view.preview = self._preview_text()
        else:
            self.view.entry = _edit(self.view.entry, key, NUMBER_MAX, allow_dot=False)
        self._changed()

    def submit_number(self) -> None:
        kind, number = self.view.number_kind, self.view.entry

        def done(result: Any) -> None:
            if result.status == "found":
                self._menu()
            else:
                self._show("number", message=result.notice.text(self.view.lang))
        self._work(lambda: identify_by_number(self.services, self.session, kind, number), done)

    # --- menu -------------------------------------------------------------------------------
    def _menu(self) -> None:
        patient = self.session.patient
        greeting = Notice("found", {"name": mask_name(patient.name)}).text(self.view.lang) if patient else ""
        if greeting:
            self._voice(greeting, self.view.lang)
        self._show("menu", greeting=greeting, message="")

    def to_menu(self) -> None:
        self.timer.touch()
        if self.session.patient is None and self.session.identity is None:
            self._reset()
        elif self.session.patient is None:  # identified by card but not registered: nothing else to do
            self.finish()
        else:
            self._menu()

    def _device_refused(self, flow: str) -> bool:
        if self.health.available(flow):
            return False
        broken = sorted(d for d in FLOW_NEEDS[flow] if not self.health.ok(d))
        self._say(Notice("device_fault", {"devices": ",".join(broken)}))
        return True

    # --- registration -----------------------------------------------------------------------
    def open_register(self) -> None:
        self.timer.touch()
        self._show("register", message="")

    def select_field(self, name: str) -> None:
        self.timer.touch()
        self._show("register", active_field=name)

    def _answers_from_fields(self) -> Answers | None:
        f = self.view.fields
        try:
            lmp = dt.datetime.strptime(f["lmp"], "%Y%m%d").date()
            return Answers(lmp, float(f["height"]), float(f["weight"]), int(f["gravidity"]), int(f["parity"]),
                           dict(self._answers))
        except ValueError:
            return None

    def _birth(self) -> dt.date | None:
        if self.session.patient is not None:
            return self.session.patient.birth_date
        return self.session.identity.birth_date if self.session.identity else None

    def _preview_text(self) -> str:
        answers, birth = self._answers_from_fields(), self._birth()
        if answers is None or birth is None or answers.height_cm <= 0 or answers.weight_kg <= 0:
            return ""
        shown = preview(answers, birth, self._today())
        return self.label("preview", ga=preg.format_ga(shown.gestational_age_days, self.view.lang),
                          edd=shown.edd.isoformat(), bmi=f"{shown.bmi:.1f}")

    def to_screening(self) -> None:
        self.timer.touch()
        if self._answers_from_fields() is None:
            self._show("register", message=Notice("form_invalid", {"field": self.label(self.view.active_field)})
                       .text(self.view.lang))
            return
        self._show("screening", rows=self._question_rows(), message="")

    def _question_rows(self) -> list[dict[str, Any]]:
        return [{"item_id": q.item_id, "text": q.text(self.view.lang), "yes": self._answers.get(q.item_id, False)}
                for q in default_rules().questions]

    def answer(self, item_id: str, yes: bool) -> None:
        self.timer.touch()
        self._answers[item_id] = yes
        self._show("screening", rows=self._question_rows())

    def submit_registration(self) -> None:
        answers = self._answers_from_fields()
        if answers is None:
            self._show("register")
            return

        def done(result: Any) -> None:
            if result.status == "invalid":
                self._show("register", message=Notice("form_invalid", {"field": self.label(
                    _FIELD_OF.get(result.notice.params["field"], "lmp"))}).text(self.view.lang))
                return
            parts = [result.notice.text(self.view.lang)]
            if result.preview is not None and result.status in ("created", "queued"):
                parts.append(result.preview.notice.text(self.view.lang))
            text = "\n".join(parts)
            self._voice(text, self.view.lang)
            actions = ("to_menu",) if self.session.patient is not None and result.status == "created" else ("leave",)
            self._show("message", message=text, actions=actions)
        self._work(lambda: register(self.services, self.session, answers, self._today(), self.queue), done)

    # --- bank card: sign, unbind --------------------------------------------------------------
    def _read_card_then(self, then: Callable[[], Any], done: Callable[[Any], None]) -> None:
        reader = self.devices.bankcard
        if reader is None:
            return
        self._voice(self.label("card_title"), self.view.lang)
        self._show("card", message="")

        def work() -> Any:
            if self.session.bank_card is None:
                problem = bank.read_bank_card(reader, self.session)
                if problem is not None:
                    return problem
            return then()
        self._work(work, done)

    def _notice_or(self, result: Any, ok: Callable[[Any], None]) -> None:
        if isinstance(result, Notice):
            self._say(result)
        else:
            ok(result)

    def open_sign(self) -> None:
        self.timer.touch()
        if self._device_refused("sign"):
            return

        def cross_check() -> Notice | None:
            card = self.session.bank_card
            return None if card is None else bank.id_cross_check(card, self.session)
        self._holder_attempt = 1
        self._read_card_then(cross_check, lambda problem: self._say(problem) if problem else self._holder_pin(None))

    def open_unbind(self) -> None:
        self.timer.touch()
        if self._device_refused("unbind"):
            return

        def done(problem: Notice | None) -> None:
            if problem is not None:
                self._say(problem)
                return
            rows = [{"binding_id": b.binding_id, "text": self.label("unbind_row", masked_pan=b.masked_pan)}
                    for b in self.session.bindings]
            self._show("bindings", rows=rows, message="")
        self._work(lambda: bank.load_bindings(self.services, self.session), done)

    def unbind(self, binding_id: str) -> None:
        """She chose a binding: that card in the reader, then her PIN (verified by its bank)."""
        self.timer.touch()
        if self._device_refused("unbind"):
            return
        self._holder_attempt = 1
        self._read_card_then(lambda: None, lambda problem: self._say(problem) if problem else
                             self._holder_pin(binding_id))

    def _holder_pin(self, binding_id: str | None) -> None:
        """PIN on the pad, verified by the card's bank; only then bind (binding_id None) or unbind."""
        pad, reader = self.devices.pinpad, self.devices.bankcard
        if pad is None or reader is None:
            return
        self._holder_binding, session, attempt = binding_id, self.session, self._holder_attempt
        self._abort.clear()
        self._voice(self.label("pin_title"), self.view.lang)
        self._show("pin", stars=0, message=Notice("holder_pin_prompt").text(self.view.lang))
        on_digits, aborted, card_pulled = self._pin_watch(reader)

        def work() -> tuple[bank.Verified, bank.CardOutcome | None]:
            verified = bank.verify_holder(self.services, pad, session, self.settings.pin_keys,
                                          self.settings.terminal_id, binding_id=binding_id, attempt=attempt,
                                          on_digits=on_digits, aborted=aborted)
            if verified.ticket is None:
                return verified, None
            if binding_id is None:
                return verified, bank.sign(self.services, pad, session, self.settings.pin_keys, verified.ticket)
            return verified, bank.unbind(self.services, session, binding_id, verified.ticket)

        def done(result: tuple[bank.Verified, bank.CardOutcome | None]) -> None:
            if session is not self.session:  # timed out meanwhile: she is gone, her session wiped
                return
            verified, outcome = result
            if card_pulled.is_set():
                session.bank_card = None
                self._say(Notice("card_removed"))
            elif verified.retry_pin:
                self._holder_attempt += 1
                self._say(verified.notice or Notice("pin_cancelled"), actions=("retry_pin", "to_menu"))
            elif outcome is None:
                self._say(verified.notice or Notice("holder_pin_cancelled"))
            else:
                self._say(outcome.notice)
        self._work(work, done)

    def _pin_watch(self, reader: Any) -> tuple[Callable[[int], None], Callable[[], bool], threading.Event]:
        """The PIN entry's callbacks: stars shown as digits are typed; stopped by a timeout, Cancel or a
        pulled card (the event says which)."""
        card_pulled = threading.Event()

        def on_digits(n: int) -> None:
            self.timer.touch()
            self.view = replace(self.view, stars=n)
            self._changed()

        def aborted() -> bool:
            if self._abort.is_set():
                return True
            if not reader.card_present():
                card_pulled.set()
                return True
            return False
        return on_digits, aborted, card_pulled

    # --- booking ------------------------------------------------------------------------------
    def open_booking(self, *, for_payment: bool = False) -> None:
        """`for_payment`: she tapped 缴费 with nothing booked yet; a hub that cannot be reached is then
        refused as a payment (nothing charged), which is what she asked for."""
        self.timer.touch()

        def done(choice: book.SlotChoice) -> None:
            if choice.notice is not None:
                offline = for_payment and choice.notice.code == "booking_offline"
                self._say(Notice("payment_offline") if offline else choice.notice)
                return
            self._slots = {s.slot_id: s for s in choice.slots}
            self._show("slots", rows=self._slot_rows(list(choice.slots)), message="")
        self._work(lambda: book.offer_slots(self.services, self.session), done)

    def _slot_rows(self, slots: list[Slot]) -> list[dict[str, Any]]:
        return [{"slot_id": s.slot_id, "text": self.label("slot_row", when=s.starts_at.strftime("%m-%d %H:%M"),
                                                             clinic=s.clinic, free=str(s.free),
                                                             fee=format_fen(s.fee_fen))} for s in slots]

    def choose_slot(self, slot_id: str) -> None:
        self.timer.touch()
        slot = self._slots.get(slot_id)
        if slot is None:
            return

        def work() -> tuple[book.Held, printing.Printed | None]:
            held = book.hold(self.services, self.session, slot)
            if held.booking is None:
                return held, None
            printer = self.devices.receipt
            if printer is None or not self.health.ok("receipt"):
                reason = self.health.snapshot().get("receipt", "not installed")
                return held, printing.Printed(False, Notice("receipt_failed", {"reason": reason}))
            return held, printing.print_booking(printer, self.session, self.settings.hospital, self._now())

        def done(result: tuple[book.Held, printing.Printed | None]) -> None:
            held, printed = result
            text = held.notice.text(self.view.lang)
            if printed is not None:
                text += "\n" + printed.notice.text(self.view.lang)
            self._voice(text, self.view.lang)
            self._show("message", message=text, actions=("pay_now", "to_menu") if held.booking else ("to_menu",))
        self._work(work, done)

    # --- payment ------------------------------------------------------------------------------
    def open_payment(self) -> None:
        self.timer.touch()
        if self.session.booking is None or self.session.booking.status != "held":
            self.open_booking(for_payment=True)
            return
        if self._device_refused("pay"):
            return
        amount = format_fen(self.session.booking.fee_fen)
        self._read_card_then(lambda: None, lambda r: self._notice_or(r, lambda _: self._pin(amount)))

    def _pin(self, amount: str) -> None:
        pad, reader = self.devices.pinpad, self.devices.bankcard
        if pad is None or reader is None:
            return
        self._holder_binding = None
        self._holder_attempt = 0  # "retry_pin" now means the payment's PIN
        self._abort.clear()
        self._voice(self.label("pin_title"), self.view.lang)
        self._show("pin", stars=0, message=Notice("pay_confirm", {"amount": amount}).text(self.view.lang))
        attempt, session = self._pin_attempt, self.session
        on_digits, aborted, card_pulled = self._pin_watch(reader)

        def work() -> payflow.Paid:
            return payflow.pay(self.services, pad, self.devices.receipt, self.session, self.settings.pin_keys,
                               self.settings.terminal_id, attempt=attempt, on_digits=on_digits, aborted=aborted,
                               queue=self.queue, waiting=self.timer.touch)
        self._work(work, lambda paid: self._paid(paid, card_pulled.is_set(), session))

    def _paid(self, paid: payflow.Paid, card_pulled: bool, session: Session) -> None:
        if session is not self.session:  # timed out meanwhile: she is gone, her session wiped
            return
        if card_pulled:
            self.session.bank_card = None
            self._say(Notice("card_removed"))
            return
        if paid.retry_pin:
            self._pin_attempt += 1
            self._say(paid.notice, actions=("retry_pin", "to_menu"))
            return
        if paid.outcome != "approved":
            self._say(paid.notice)
            return
        self._pin_attempt = 1
        printer = self.devices.receipt

        def work() -> printing.Printed | None:
            if printer is None:
                return None
            return printing.print_payment(printer, self.session, self.settings.hospital, self._now())

        def done(printed: printing.Printed | None) -> None:
            text = paid.notice.text(self.view.lang)
            if printed is not None:
                text += "\n" + printed.notice.text(self.view.lang)
            self._voice(text, self.view.lang)
            self._show("message", message=text, actions=("print_report", "leave"))
        self._work(work, done)

    def retry_pin(self) -> None:
        if self._holder_attempt > 0 and self.session.bank_card is not None:  # signing or unbinding
            self._holder_pin(self._holder_binding)
            return
        booking = self.session.booking
        if booking is not None and self.session.bank_card is not None:
            self._pin(format_fen(booking.fee_fen))

    def cancel(self) -> None:
        """Cancel on the card / PIN screens: stop the PIN entry or the wait for a card."""
        self._abort.set()

    # --- printing, leaving ----------------------------------------------------------------------
    def print_report(self) -> None:
        self.timer.touch()
        printer = self.devices.a4
        if self._device_refused("print_report") or printer is None:
            return
        self._work(lambda: printing.print_report(printer, self.session, self._today()),
                   lambda printed: self._say(printed.notice, actions=("to_menu", "leave")))

    def finish(self) -> None:
        """She is done: give back the card, remind, and forget her."""
        session = self.session
        self._show("leave", message=self.label("leave_title"))

        def remind(notice: Notice) -> None:
            self._voice(notice.text(self.view.lang), self.view.lang)

        def work() -> Any:
            book.release(self.services, session)
            return leave(session, self.devices.motor, self.devices.idcard, remind=remind, health=self.health)

        def done(left: Any) -> None:  # where her card is, if it is not in her hand; else goodbye
            self._reset(next((n for n in left.notices if n.code in ("card_stuck", "card_captured")), left.notices[-1]))
        self._work(work, done)

    def call_staff(self) -> None:
        self.timer.touch()
        self._show(self.view.screen, message=self.label("help_called"))


_FIELD_OF = {"lmp_future": "lmp", "lmp_too_old": "lmp", "height": "height", "weight": "weight",
             "gravidity": "gravidity", "parity": "parity"}


def _edit(value: str, key: str, limit: int, *, allow_dot: bool) -> str:
    if key == "del":
        return value[:-1]
    if key == "clear":
        return ""
    if key == "." and (not allow_dot or "." in value):
        return value
    if len(value) >= limit or not (key.isdigit() or key == "."):
        return value
    return value + key
