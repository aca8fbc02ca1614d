"""The request lane of a hub worker: requests never queue behind the record path.

The worker's network thread hands each ``req`` message here (`submit`, non-blocking) instead
of to the record batches; a small pool of threads answers them against the services'
own database connection (on SQLite, its own file), so neither a large ingest batch nor an
fsync stall of the record store delays an answer. The queue is bounded; overflow is counted
and the request dropped (the kiosk times out and retries with the same idempotency key).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from central_hub.config import WorkerConfig
from central_hub.datakey import load_or_create
from central_hub.directory import Directory
from central_hub.renewal import RenewalDesk, RenewingDispatcher
from central_hub.services.db import ServicesDb, services_db_url
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.gateway import AcquirerGateway
from central_hub.services.privacy import Privacy, county_key
from central_hub.services.registrations import IntakeLoop, RegistrationIntake
from central_hub.services.responder import Inbound, Outbound, Responder
from central_hub.services.settings import load_settings
from central_hub.services.voids import VoidIntake
from central_hub.stats import IngestStats
from central_hub.store import open_store

log = logging.getLogger(__name__)

THREADS = 4
QUEUE_MAX = 64
PER_DEVICE_MAX = 8  # one device (a hostile one, or one retrying in a loop) cannot take the whole lane
SETTLE_EVERY_S = 30.0

Publish = Callable[[Outbound], None]


class RpcLane:
    def __init__(self, config: WorkerConfig, publish: Publish, stats: IngestStats) -> None:
        self.config, self.publish, self.stats = config, publish, stats
        self._slots = threading.BoundedSemaphore(QUEUE_MAX)
        self._per_device: dict[str, int] = {}
        self._count_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._db: ServicesDb | None = None
        self.responder: Responder | None = None
        self._stopping = threading.Event()
        self._settler: threading.Thread | None = None
        self._intake: IntakeLoop | None = None
        self._voids: VoidIntake | None = None

    def start(self) -> None:
        """Open the services database and seed the timetable (raises HubError if it cannot)."""
        settings = load_settings(self.config.state_dir)
        self._db = db = ServicesDb(services_db_url(self.config.db_url, self.config.state_dir))
        cipher = load_or_create(self.config.state_dir)
        privacy = Privacy(cipher, county_key(self.config.state_dir))
        gateway = AcquirerGateway(settings.gateway) if settings.gateway else None
        dispatcher = RenewingDispatcher(db, privacy, gateway, settings.timetable,
                                        desk=RenewalDesk(self.config.site_dir))  # + cert.renew/renewed
        self._intake = IntakeLoop(RegistrationIntake(open_store(self.config.db_url), db, cipher, dispatcher.patients,
                                                     dispatcher.records))
        self._intake.start()  # registrations a kiosk queued while the hub was down
        self._voids = VoidIntake(open_store(self.config.db_url), db, cipher, dispatcher.payments)
        added = dispatcher.schedule.seed()
        log.info("services ready (%d new clinic slots; acquirer %s)", added,
                 f"{settings.gateway.host}:{settings.gateway.port}" if settings.gateway else "not configured")
        self.responder = Responder(Directory.from_site(self.config.site_dir), db, dispatcher, self.stats)
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="hub-rpc")
        self._settler = threading.Thread(target=self._settle_loop, args=(dispatcher,), name="hub-settle", daemon=True)
        self._settler.start()

    def _settle_loop(self, dispatcher: Dispatcher) -> None:
        """Payments whose outcome is unknown are reversed in the background until the acquirer confirms,
        and so are approvals a kiosk never saw (its payment-void/1 records)."""
        while not self._stopping.wait(SETTLE_EVERY_S):
            try:
                if self._voids is not None:
                    self._voids.step()
                settled = dispatcher.payments.settle_unknown()
                if settled:
                    log.info("reversed %d payment(s) whose outcome was unknown", settled)
            except Exception:  # the next round tries again
                self.stats.add("settle_errors")
                log.exception("settling unknown payments failed")

    def submit(self, msg: Inbound) -> None:
        device = _device_of(msg.topic)
        with self._count_lock:
            if self._per_device.get(device, 0) >= PER_DEVICE_MAX:
                self.stats.add("rpc_dropped_device_limit")
                return
            if self._pool is None or not self._slots.acquire(blocking=False):
                self.stats.add("rpc_dropped_queue_full")
                return
            self._per_device[device] = self._per_device.get(device, 0) + 1
        try:
            self._pool.submit(self._answer, msg, device)
        except RuntimeError:  # shutting down
            self._done(device)

    def _answer(self, msg: Inbound, device: str) -> None:
        try:
            out = self.responder.answer(msg) if self.responder else None
            if out is not None:
                self.publish(out)
        except Exception:  # never lose the thread; the kiosk times out and retries
            self.stats.add("rpc_lane_errors")
            log.exception("request lane: unexpected error")
        finally:
            self._done(device)

    def _done(self, device: str) -> None:
        with self._count_lock:
            left = self._per_device.get(device, 1) - 1
            if left:
                self._per_device[device] = left
            else:
                self._per_device.pop(device, None)
            self._slots.release()

    def stop(self) -> None:
        self._stopping.set()
        if self._settler is not None:
            self._settler.join(5)
        if self._intake is not None:
            self._intake.stop()
        if self._voids is not None:
            self._voids.store.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._db is not None:
            self._db.close()


def _device_of(where: str) -> str:
    parts = where.split("/")
    return parts[2] if len(parts) > 2 else ""
