"""Station configuration: beds and their serial URLs, ward thresholds, archive, link.

TOML (`.toml`) or JSON (`.json`), validated completely at load: unknown keys, wrong types,
duplicate beds and bad values are reported with the file and key, as `ConfigError`.
Relative paths are taken relative to the config file.

    station_id = "station-01"
    archive = "archive.sqlite3"
    [thresholds]            # ward thresholds, handed to the analysis/alarm configuration
    bradycardia_bpm = 110
    archive_min_free_mb = 512  # less free space on the archive's disk: fault archive-disk-low
    [link]                  # optional: without it records go to a local outbox only
    bundle = "/etc/mch/station-01"
    broker = "10.0.0.5:8883"  # optional: overrides the bundle's broker address
    heartbeat_s = 30        # optional: state/1 heartbeat period (faults ride on it)
    [idcard]                # optional: the ID-card reader (SAM_V) for admission and the nurse id
    url = "/dev/ttyUSB1"
    baudrate = 115200
    [[beds]]
    id = "bed-01"
    url = "/dev/ttyUSB0"    # any pyserial URL: device, pty, socket://host:port, spy://...
    protocol = "corometrics-115"
    options = { mode = "update" }
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fetal_monitor_station.archive.store import SYNCHRONOUS_MODES
from fetal_monitor_station.errors import ConfigError
from fetal_monitor_station.monitor.decoder import make_decoder

STATION_ID_RE = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
BED_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
MAX_BEDS = 256
DEFAULT_PROTOCOL = "corometrics-115"


@dataclass(frozen=True)
class BedConfig:
    bed_id: str
    url: str
    baudrate: int = 9600
    protocol: str = DEFAULT_PROTOCOL
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkConfig:
    bundle: Path
    outbox: Path | None = None
    broker: tuple[str, int] | None = None  # overrides the bundle's broker address
    heartbeat_s: float = 30.0  # state/1 heartbeat period (faults and alarm summary ride on it)


@dataclass(frozen=True)
class IdCardConfig:
    url: str  # pyserial URL of the SAM_V ID-card reader (the kiosk's model of reader)
    baudrate: int = 115200


@dataclass(frozen=True)
class StationConfig:
    station_id: str
    archive: Path
    beds: tuple[BedConfig, ...]
    thresholds: dict[str, float] = field(default_factory=dict)
    link: LinkConfig | None = None
    local_outbox: Path | None = None  # used when there is no [link]
    archive_synchronous: str = "NORMAL"
    batch_samples: int = 40
    analysis: bool = True
    clock_speed: float = 1.0  # > 1 only for accelerated simulation runs
    archive_min_free_mb: float = 512.0  # below this free space the station reports archive-disk-low
    idcard: IdCardConfig | None = None  # admission and nurse id from an ID card; typed without it


def _take(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}: missing required key {key!r}")
        return default
    value = table[key]
    if isinstance(value, bool) and typ in (int, float, (int, float)):
        raise ConfigError(f"{where}.{key}: want {getattr(typ, '__name__', 'number')}, got a boolean")
    if not isinstance(value, typ):
        name = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise ConfigError(f"{where}.{key}: want {name}, got {type(value).__name__} {value!r}")
    return value


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _path(base: Path, raw: str) -> Path:
    p = Path(raw).expanduser()
    return p if p.is_absolute() else base / p


def _broker(raw: Any, source: str) -> tuple[str, int] | None:
    if raw is None:
        return None
    host, _, port = str(raw).rpartition(":")
    if not isinstance(raw, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{source}.link.broker: want 'host:port', got {raw!r}")
    return host, int(port)


def _bed(raw: Any, i: int) -> BedConfig:
    where = f"beds[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: want a table with id and url")
    _no_unknown(raw, {"id", "url", "baudrate", "protocol", "options"}, where)
    bed_id = _take(raw, "id", str, where)
    if not BED_ID_RE.match(bed_id):
        raise ConfigError(f"{where}.id: {bed_id!r} does not match {BED_ID_RE.pattern}")
    url = _take(raw, "url", str, where)
    if not url.strip():
        raise ConfigError(f"{where}.url: empty")
    baud = _take(raw, "baudrate", int, where, 9600)
    if baud not in BAUDRATES:
        raise ConfigError(f"{where}.baudrate: {baud} not one of {BAUDRATES} (9600 recommended)")
    protocol = _take(raw, "protocol", str, where, DEFAULT_PROTOCOL)
    options = _take(raw, "options", dict, where, {})
    try:
        make_decoder(protocol, options)  # validates the protocol name and its options now
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return BedConfig(bed_id, url, baud, protocol, dict(options))


def parse_config(data: Any, base: Path, source: str = "<config>") -> StationConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a table")
    _no_unknown(data, {"station_id", "archive", "archive_synchronous", "beds", "thresholds", "link",
                       "local_outbox", "batch_samples", "analysis", "clock_speed", "archive_min_free_mb",
                       "idcard"}, source)
    station_id = _take(data, "station_id", str, source)
    if not STATION_ID_RE.match(station_id) or station_id.startswith("hub"):
        raise ConfigError(f"{source}.station_id: {station_id!r} is not a device id ({STATION_ID_RE.pattern})")
    beds_raw = _take(data, "beds", list, source)
    if not 1 <= len(beds_raw) <= MAX_BEDS:
        raise ConfigError(f"{source}.beds: want 1..{MAX_BEDS} beds, got {len(beds_raw)}")
    beds = tuple(_bed(b, i) for i, b in enumerate(beds_raw))
    seen: set[str] = set()
    for b in beds:
        if b.bed_id in seen:
            raise ConfigError(f"{source}.beds: bed id {b.bed_id!r} appears twice")
        seen.add(b.bed_id)
    thresholds_raw = _take(data, "thresholds", dict, source, {})
    thresholds = {k: float(_take(thresholds_raw, k, (int, float), f"{source}.thresholds")) for k in thresholds_raw}
    link = None
    if "link" in data:
        lt = _take(data, "link", dict, source)
        _no_unknown(lt, {"bundle", "outbox", "broker", "heartbeat_s"}, f"{source}.link")
        outbox = _take(lt, "outbox", str, f"{source}.link", None)
        heartbeat = float(_take(lt, "heartbeat_s", (int, float), f"{source}.link", 30.0))
        if not 0.5 <= heartbeat <= 3600:
            raise ConfigError(f"{source}.link.heartbeat_s: want 0.5..3600")
        link = LinkConfig(_path(base, _take(lt, "bundle", str, f"{source}.link")),
                          _path(base, outbox) if outbox else None, _broker(lt.get("broker"), source), heartbeat)
    sync = _take(data, "archive_synchronous", str, source, "NORMAL").upper()
    if sync not in SYNCHRONOUS_MODES:
        raise ConfigError(f"{source}.archive_synchronous: want one of {SYNCHRONOUS_MODES}")
    batch = _take(data, "batch_samples", int, source, 40)
    if not 1 <= batch <= 2400:
        raise ConfigError(f"{source}.batch_samples: want 1..2400")
    speed = float(_take(data, "clock_speed", (int, float), source, 1.0))
    if not 0.1 <= speed <= 1000:
        raise ConfigError(f"{source}.clock_speed: want 0.1..1000 (1 = real time)")
    min_free = float(_take(data, "archive_min_free_mb", (int, float), source, 512.0))
    if not 0 <= min_free <= 1e9:
        raise ConfigError(f"{source}.archive_min_free_mb: want 0..1e9")
    idcard = None
    if "idcard" in data:
        it = _take(data, "idcard", dict, source)
        _no_unknown(it, {"url", "baudrate"}, f"{source}.idcard")
        card_baud = _take(it, "baudrate", int, f"{source}.idcard", 115200)
        if card_baud not in BAUDRATES:
            raise ConfigError(f"{source}.idcard.baudrate: want one of {BAUDRATES}")
        idcard = IdCardConfig(_take(it, "url", str, f"{source}.idcard"), card_baud)
    local = _take(data, "local_outbox", str, source, None)
    return StationConfig(
        station_id=station_id, archive=_path(base, _take(data, "archive", str, source)), beds=beds,
        thresholds=thresholds, link=link, local_outbox=_path(base, local) if local else None,
        archive_synchronous=sync, batch_samples=batch, analysis=_take(data, "analysis", bool, source, True),
        clock_speed=speed, archive_min_free_mb=min_free, idcard=idcard)


def load_config(path: Path | str) -> StationConfig:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text.decode("utf-8"))
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: want a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()} ({exc})") from None
    return parse_config(data, path.parent.resolve(), str(path))
