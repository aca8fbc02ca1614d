"""The hub's view of the device registry (``<site>/registry/``), reloaded when it changes.

Provisioning enrols and revokes by rewriting registry files; the hub notices within
RELOAD_INTERVAL_S, and at once (rate-limited) when an unknown device speaks, so a freshly
enrolled device is not quarantined for long and a revoked one is refused promptly.

The registry is read file by file (`mch_link.registry.scan_registry`): a stray or broken file
costs only its own device, which is refused (fail closed) until its file reads again, even if
an earlier reload knew it; the bad files are logged and kept in `problems` for the fleet view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from mch_link.errors import LinkError
from mch_link.registry import REGISTRY_DIR, RegistryEntry, RegistryScan, scan_registry

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 2.0
UNKNOWN_RELOAD_MIN_S = 0.5

Loader = Callable[[], RegistryScan]


class Directory:
    """Thread-safe lookup of registry entries. If the registry directory itself cannot be read,
    the last view is kept (and counted in `load_errors`)."""

    def __init__(self, loader: Loader, signature: Callable[[], object] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._signature = signature or (lambda: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: Mapping[str, RegistryEntry] = {}
        self._unreadable: frozenset[str] = frozenset()
        self._sig: object = object()
        self._checked_at = float("-inf")
        self.load_errors = 0
        self.problems: dict[str, str] = {}  # registry file name -> what is wrong with it
        self.problems_version = 0  # bumped whenever `problems` changes
        self.reload()

    @classmethod
    def from_site(cls, site_dir: Path) -> Directory:
        registry_dir = Path(site_dir) / REGISTRY_DIR
        return cls(lambda: scan_registry(site_dir), lambda: _dir_signature(registry_dir))

    @classmethod
    def from_entries(cls, entries: Mapping[str, RegistryEntry],
                     clock: Callable[[], float] = time.monotonic) -> Directory:
        """A directory over a mapping (read again at every reload: tests change it in place)."""
        return cls(lambda: RegistryScan(dict(entries), {}, frozenset()), clock=clock)

    def reload(self) -> None:
        with self._lock:
            self._checked_at = self._clock()
            sig = self._signature()
            if sig is not None and sig == self._sig:
                return
            try:
                scan = self._loader()
            except (LinkError, OSError) as exc:
                self.load_errors += 1
                log.error("registry reload failed, keeping the previous one: %s", exc)
                return
            self._entries, self._unreadable, self._sig = dict(scan.entries), scan.unreadable, sig
            if scan.problems != self.problems:
                for name, problem in sorted(scan.problems.items()):
                    if self.problems.get(name) != problem:
                        log.error("registry file %s: %s", name, problem)
                self.problems = dict(scan.problems)
                self.problems_version += 1

    def get(self, device_id: str) -> RegistryEntry | None:
        now = self._clock()
        entry = self._entries.get(device_id)
        since = now - self._checked_at
        if since >= RELOAD_INTERVAL_S or (entry is None and since >= UNKNOWN_RELOAD_MIN_S):
            self.reload()
            entry = self._entries.get(device_id)
        return entry

    def unreadable(self, device_id: str) -> bool:
        """Whether the device's own registry file exists but cannot be read (it is refused)."""
        return device_id in self._unreadable

    def known(self) -> Mapping[str, RegistryEntry]:
        return self._entries


def _dir_signature(directory: Path) -> object:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.glob("*.json")))
    except OSError:
        return None
