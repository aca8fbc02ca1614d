"""Everything the dashboard's pages act on, built once per app: store, registry, users, audit,
commands, quarantine, the live fleet and the county-feed status. Tests drive it without HTTP."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from central_hub import datakey
from central_hub.audit import AuditLog
from central_hub.commands import Commands, CommandSender
from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.directory import Directory
from central_hub.errors import StoreError
from central_hub.feed import outbox as feed_outbox
from central_hub.quarantine_admin import QuarantineAdmin
from central_hub.store import open_store
from central_hub.store.base import Store
from central_hub.users import Users
from central_hub.web.live import LiveFleet
from mch_link.registry import load_site_info

log = logging.getLogger(__name__)

EXPIRE_EVERY_S = 1.0


@dataclass(frozen=True)
class WebConfig:
    site_dir: Path
    db_url: str
    hub_id: str | None = None  # the identity commands are sent with (hub-<n>); None: commands off
    broker: tuple[str, int] | None = None  # instead of site.json's
    state_dir: Path | None = None  # the hub's state (its data key, which a quarantine release needs)

    @property
    def data_key_path(self) -> Path:
        return (self.state_dir or self.site_dir / DEFAULT_STATE_SUBDIR) / datakey.KEY_FILE


class Dashboard:
    def __init__(self, config: WebConfig, sender: CommandSender | None = None,
                 clock: Callable[[], float] = time.time, password_hasher: PasswordHasher | None = None) -> None:
        self.config = config
        self.clock = clock
        self.site_id = load_site_info(config.site_dir).site_id
        self.store: Store = open_store(config.db_url)
        self.directory = Directory.from_site(config.site_dir)
        self.audit = AuditLog(self.store, clock)
        self.users = Users(self.store, clock, password_hasher)
        self.sender = sender
        self.commands = Commands(self.store, self.audit, sender, self._commandable, clock)
        self.quarantine = QuarantineAdmin(self.store, self.audit, self.data_key)
        self._cipher: datakey.DataCipher | None = None
        self._live_store = open_store(config.db_url)  # its own connection: polling never waits on a page's query
        self.live = LiveFleet(self._live_store, self.directory, self.site_id, clock)
        self.feed = CountyFeed(self.store, self.audit)
        self._stopping = threading.Event()
        self._housekeeper: threading.Thread | None = None

    def data_key(self) -> datakey.DataCipher:
        """The hub's data key, read on first use (never created here: a new key would open nothing)."""
        if self._cipher is None:
            self._cipher = datakey.load(self.config.data_key_path)
        return self._cipher

    def _commandable(self, device_id: str) -> bool:
        entry = self.directory.get(device_id)
        return entry is not None and entry.active

    def history(self, device_id: str, limit: int = 100) -> list[tuple[int, str, str]]:
        return [(int(r[0]), r[1], r[2]) for r in self.store.read(
            "SELECT at_ms, event, detail FROM fleet_events WHERE device_id = ? ORDER BY id DESC LIMIT ?",
            (device_id, limit))]

    def start(self) -> None:
        self.live.start()
        self._housekeeper = threading.Thread(target=self._housekeeping, name="dashboard-housekeeping", daemon=True)
        self._housekeeper.start()

    def stop(self) -> None:
        self._stopping.set()
        self.live.stop()
        if self._housekeeper is not None:
            self._housekeeper.join(5)
        self.close()

    def close(self) -> None:
        self._live_store.close()
        self.store.close()

    def _housekeeping(self) -> None:
        """Commands past their deadline become `timeout` (idempotent: several dashboards may run)."""
        while not self._stopping.wait(EXPIRE_EVERY_S):
            try:
                self.commands.expire()
            except StoreError as exc:
                log.warning("cannot expire commands: %s", exc)


class CountyFeed:
    """The county feed's state for the dashboard (central_hub.feed.outbox), and its audited requeue."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

    def status(self) -> dict[str, Any]:
        return feed_outbox.feed_status(self.store)

    def dead_letters(self, limit: int = 100) -> list[feed_outbox.DeadLetter]:
        return feed_outbox.dead_letters(self.store, limit)

    def requeue(self, actor: str, ids: list[int], note: str) -> int:
        """Dead letters back to pending (the feed rebuilds their Bundles); audited with the reason."""
        count = feed_outbox.requeue(self.store, ids, f"{note} (by {actor})")
        self.audit.append(actor, "feed-requeue", ",".join(str(i) for i in ids), {"note": note, "requeued": count})
        return count
