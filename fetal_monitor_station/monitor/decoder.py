"""The decoder interface: one module per monitor family plugs in here.

A decoder is a pure byte-stream parser: `feed(data)` returns the events completed by those
bytes and never raises on bad input (it counts it in `stats`). `hello()` is what the host
must send after connecting (a data request for monitors in request/response mode, or b"").
A family registers a factory under a protocol name; config chooses it by that name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fetal_monitor_station.errors import ConfigError
from fetal_monitor_station.monitor.events import HrRole, MonitorEvent


@dataclass
class DecoderStats:
    """Running counters of one decoder (the reader turns them into a link-quality figure)."""

    bytes_in: int = 0
    frames_ok: int = 0
    framing_errors: int = 0  # no start byte, wrong id, bad length, non-ASCII, overlong
    unknown_codes: int = 0  # well-framed message with a response type we do not know
    bad_values: int = 0  # known message whose data field is not a valid value
    bytes_discarded: int = 0

    @property
    def errors(self) -> int:
        return self.framing_errors + self.unknown_codes + self.bad_values


class MonitorDecoder(Protocol):
    stats: DecoderStats

    def feed(self, data: bytes) -> list[MonitorEvent]: ...

    def hello(self) -> bytes: ...

    def hr_roles(self) -> tuple[HrRole, HrRole]:
        """What HR channels 1 and 2 carry under the monitor's current mode."""
        ...


DecoderFactory = Callable[[Mapping[str, Any]], MonitorDecoder]
_REGISTRY: dict[str, DecoderFactory] = {}


def register_decoder(name: str, factory: DecoderFactory) -> None:
    _REGISTRY[name] = factory


def protocols() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def make_decoder(name: str, options: Mapping[str, Any] | None = None) -> MonitorDecoder:
    """Build the decoder of a protocol by its config name; ConfigError for unknown names/options."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown monitor protocol {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
    return factory(dict(options or {}))


def _load_builtin() -> None:
    # Importing a family module registers it; new families add one import here.
    from fetal_monitor_station.monitor import corometrics  # noqa: F401
