"""The hub's view of the device registry (``<site>/registry/``), reloaded when it changes.

Provisioning enrols and revokes by rewriting registry files; the hub notices within
RELOAD_INTERVAL_S, and at once (rate-limited) when an unknown device speaks, so a freshly
enrolled device is not quarantined for long and a revoked one is refused promptly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from mch_link.errors import LinkError
from mch_link.registry import REGISTRY_DIR, RegistryEntry, load_registry

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 2.0
UNKNOWN_RELOAD_MIN_S = 0.5

Loader = Callable[[], Mapping[str, RegistryEntry]]


class Directory:
    """Thread-safe lookup of registry entries; a registry that fails to load keeps the last good one."""

    def __init__(self, loader: Loader, signature: Callable[[], object] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._signature = signature or (lambda: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: Mapping[str, RegistryEntry] = {}
        self._sig: object = object()
        self._checked_at = float("-inf")
        self.load_errors = 0
        self.reload()

    @classmethod
    def from_site(cls, site_dir: Path) -> Directory:
        registry_dir = Path(site_dir) / REGISTRY_DIR
        return cls(lambda: load_registry(site_dir), lambda: _dir_signature(registry_dir))

    @classmethod
    def from_entries(cls, entries: Mapping[str, RegistryEntry]) -> Directory:
        return cls(lambda: dict(entries))

    def reload(self) -> None:
        with self._lock:
            self._checked_at = self._clock()
            sig = self._signature()
            if sig is not None and sig == self._sig:
                return
            try:
                self._entries = dict(self._loader())
                self._sig = sig
            except (LinkError, OSError) as exc:
                self.load_errors += 1
                log.error("registry reload failed, keeping the previous one: %s", exc)

    def get(self, device_id: str) -> RegistryEntry | None:
        now = self._clock()
        entry = self._entries.get(device_id)
        since = now - self._checked_at
        if since >= RELOAD_INTERVAL_S or (entry is None and since >= UNKNOWN_RELOAD_MIN_S):
            self.reload()
            entry = self._entries.get(device_id)
        return entry

    def known(self) -> Mapping[str, RegistryEntry]:
        return self._entries


def _dir_signature(directory: Path) -> object:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.glob("*.json")))
    except OSError:
        return None
