"""Self-registration of a pregnancy record (自助建档): LMP -> GA/EDD, height/weight -> BMI,
obstetric history and the patient-answerable screening items. Hub down: queued and said so."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from kiosk.flows import pregnancy as preg
from kiosk.flows.identify import new_patient
from kiosk.flows.messages import Notice, hub_refused
from kiosk.flows.queue import KIND_REGISTRATION, RecordQueue, queue_registration, registration_body
from kiosk.flows.screening import ScreeningRules, ScreenResult, default_rules, evaluate
from kiosk.flows.session import Session
from kiosk.hospital.api import (
    HospitalError,
    HospitalServices,
    HospitalUnavailable,
    PregnancyForm,
    PregnancyRecord,
)

HEIGHT_RANGE_CM = (120.0, 200.0)
WEIGHT_RANGE_KG = (30.0, 200.0)
MAX_GRAVIDITY = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answers:
    """What she typed. `gravidity` counts this pregnancy; `parity` = births after 28 weeks."""

    lmp: dt.date
    height_cm: float
    weight_kg: float
    gravidity: int
    parity: int
    screening: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Preview:
    """What the kiosk computes before sending (shown for her to confirm)."""

    gestational_age_days: int
    edd: dt.date
    bmi: float
    screen: ScreenResult

    @property
    def notice(self) -> Notice:
        return Notice("screen_positive" if self.screen.positive else "screen_negative")


@dataclass(frozen=True)
class Registered:
    status: str                 # "created", "queued", "invalid", "refused"
    notice: Notice
    record: PregnancyRecord | None = None
    preview: Preview | None = None


def check_answers(answers: Answers, today: dt.date) -> str | None:
    """The first field that is out of range (a field code), or None."""
    ga = preg.gestational_age_days(answers.lmp, today)
    if ga < 0:
        return "lmp_future"
    if ga > preg.MAX_GA_DAYS:
        return "lmp_too_old"
    if not HEIGHT_RANGE_CM[0] <= answers.height_cm <= HEIGHT_RANGE_CM[1]:
        return "height"
    if not WEIGHT_RANGE_KG[0] <= answers.weight_kg <= WEIGHT_RANGE_KG[1]:
        return "weight"
    if not 1 <= answers.gravidity <= MAX_GRAVIDITY:
        return "gravidity"
    if not 0 <= answers.parity < answers.gravidity:
        return "parity"
    return None


def preview(answers: Answers, birth_date: dt.date, today: dt.date,
            rules: ScreeningRules | None = None) -> Preview:
    bmi = preg.bmi(answers.height_cm, answers.weight_kg)
    values = {"age_years": float(preg.age_on(birth_date, today)), "height_cm": answers.height_cm, "bmi": bmi}
    screen = evaluate(rules or default_rules(), values, answers.screening)
    return Preview(preg.gestational_age_days(answers.lmp, today), preg.edd(answers.lmp), bmi, screen)


def register(services: HospitalServices, session: Session, answers: Answers, today: dt.date,
             queue: RecordQueue | None = None) -> Registered:
    """Create her patient entry (if new) and her pregnancy record; queue both if the hub is down."""
    if session.patient is not None:
        birth = session.patient.birth_date
    elif session.identity is not None:
        birth = session.identity.birth_date
    else:
        raise ValueError("register needs an identified patient")
    bad = check_answers(answers, today)
    if bad is not None:
        return Registered("invalid", Notice("form_invalid", {"field": bad}))
    shown = preview(answers, birth, today)
    try:
        if session.patient is None and session.identity is not None:
            session.patient = services.register_patient(
                new_patient(session.identity), idempotency_key=session.idempotency_key("register_patient"))
        if session.patient is None:
            raise ValueError("register needs an identified patient")
        form = _form(session.patient.patient_id, answers, shown)
        record = services.create_pregnancy_record(form, idempotency_key=session.idempotency_key("pregnancy"))
    except HospitalUnavailable:
        return _queue(session, answers, shown, queue)
    except HospitalError as exc:
        return Registered("refused", hub_refused(exc.code), preview=shown)
    session.record = record
    ga = preg.format_ga(record.gestational_age_days)
    return Registered("created", Notice("registered", {"ga": ga, "edd": record.edd.isoformat()}), record, shown)


def _form(patient_id: str, answers: Answers, shown: Preview) -> PregnancyForm:
    return PregnancyForm(patient_id=patient_id, lmp=answers.lmp, height_cm=answers.height_cm,
                         pre_pregnancy_weight_kg=answers.weight_kg, gravidity=answers.gravidity,
                         parity=answers.parity, screening=dict(shown.screen.answers))


def _queue(session: Session, answers: Answers, shown: Preview, queue: RecordQueue | None) -> Registered:
    if queue is None or session.identity is None:
        return Registered("refused", Notice("hub_down"), preview=shown)
    form = _form(session.patient.patient_id if session.patient else "", answers, shown)
    key = session.idempotency_key("register_patient")
    if not queue_registration(queue, registration_body(new_patient(session.identity), form, key)):
        return Registered("refused", Notice("hub_down"), preview=shown)
    session.queued.append(KIND_REGISTRATION)
    log.info("register: hub unreachable, registration queued")
    return Registered("queued", Notice("registration_queued"), preview=shown)
