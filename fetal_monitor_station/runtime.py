"""Build a running station from its config: archive, link (or local outbox), analysis, alarms."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import serial

from fetal_monitor_station.alarm_journal import AlarmJournaller, journal_path
from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import StationConfig
from fetal_monitor_station.errors import ConfigError, StationError
from fetal_monitor_station.health import StationHealth
from fetal_monitor_station.monitor.reader import PortOpener
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.station import AlarmPolicy, AnalyzerFactory, Station
from mch_link import schemas
from mch_link.errors import LinkError
from mch_link.outbox import Outbox
from mch_link.topics import Kind

log = logging.getLogger(__name__)

class OutboxLink:
    """A link without a session: validate and commit to a local outbox (no hub configured)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        schemas.validate(schema, body)
        return self.outbox.add(kind.value, schema, body, made_at_ms)


def scaled_clock(speed: float) -> Callable[[], float]:
    """Host time running `speed` times faster from now (accelerated simulation runs only)."""
    if speed == 1.0:
        return time.time
    t0 = time.time()
    m0 = time.monotonic()
    return lambda: t0 + (time.monotonic() - m0) * speed


def analysis_hooks(config: StationConfig) -> tuple[AnalyzerFactory | None, Any, AlarmPolicy | None]:
    """The analysis helper's analyzer, classification extractor and alarm policy, when enabled."""
    if not config.analysis:
        return None, None, None
    from fetal_monitor_station.adapters import make_hooks

    return make_hooks(config.thresholds)


def build_station(config: StationConfig, *, opener: PortOpener = serial.serial_for_url,
                  link: Any = None) -> tuple[Station, Any]:
    """(station, link to start/stop or None). Raises ConfigError/StationError with the cause."""
    clock = scaled_clock(config.clock_speed)
    owned_link = None
    if link is None:
        if config.link is not None:
            try:
                from mch_link.device import DeviceLink
                from mch_link.renewal import runner_for

                owned_link = link = DeviceLink.from_bundle(config.link.bundle, config.link.outbox,
                                                           broker=config.link.broker,
                                                           heartbeat_s=config.link.heartbeat_s)
                link.on_command = runner_for(link, config.link.bundle).on_command  # the hub's `renew`
            except LinkError as exc:
                raise ConfigError(f"link: {exc}") from None
        else:
            path = config.local_outbox or config.archive.with_name(config.archive.stem + "-outbox.sqlite3")
            try:
                link = OutboxLink(Outbox(path))
            except LinkError as exc:
                raise StationError(f"local outbox: {exc}") from None
    archive = Archive(config.archive, config.archive_synchronous)
    factory, classification_of, alarms = analysis_hooks(config)
    station = Station(config.beds, archive, Publisher(link, config.batch_samples), analyzer_factory=factory,
                      alarm_policy=alarms, classification_of=classification_of, opener=opener, clock=clock,
                      time_scale=config.clock_speed)
    return station, owned_link


def open_journal(config: StationConfig, station: Station) -> NurseJournal:
    """The nurse journal next to the archive, with every alarm change of the station written to it."""
    journal = NurseJournal(journal_path(config.archive), station.clock)
    station.listeners.append(AlarmJournaller(journal, station.clock))
    return journal


def report_health(config: StationConfig, station: Station, link: Any) -> StationHealth:
    """The station's faults and alarm summary, reported in the link's births and heartbeats."""
    health = StationHealth(station, config.archive, min_free_mb=config.archive_min_free_mb)
    if link is not None and hasattr(link, "faults"):
        link.faults = health.faults
        link.alarm_summary = health.alarm_summary
    return health
