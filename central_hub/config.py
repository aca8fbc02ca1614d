"""A hub worker's configuration, validated when built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from central_hub.errors import HubConfigError
from mch_link.errors import LinkError
from mch_link.registry import HubIdentity, hub_identity, load_site_info
from mch_link.sitefiles import ca_keys_in, hub_view

DEFAULT_STATE_SUBDIR = "hub/state"  # under the site directory
DEFAULT_DB_FILE = "hub.db"
SHARE_GROUP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class WorkerConfig:
    site_dir: Path
    db_url: str
    state_dir: Path
    broker_host: str
    broker_port: int
    identity: HubIdentity
    share_group: str | None = None
    batch_max_messages: int = 500  # a batch ends at this many messages ...
    batch_max_ms: int = 10  # ... or this long after its first message (commit time groups the rest)
    queue_max: int = 2000  # network thread -> dispatcher thread (then the store process)
    receive_maximum: int = 1000  # MQTT 5: at most this many unacknowledged messages sent to us
    session_expiry_s: int = 7 * 86400  # the broker keeps our session (and queues for us) this long
    keepalive_s: int = 30
    stats_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.share_group is not None and (not self.share_group or set(self.share_group) - SHARE_GROUP_CHARS):
            raise HubConfigError(f"share group {self.share_group!r}: use lowercase letters, digits, '-' and '_'")
        if not 1 <= self.broker_port <= 65535:
            raise HubConfigError(f"broker port {self.broker_port} out of range")
        if self.batch_max_messages < 1 or self.batch_max_ms < 0 or self.queue_max < self.receive_maximum:
            raise HubConfigError("batch size must be >= 1 and the queue at least the receive maximum")
        for path in (self.identity.cert, self.identity.key, self.identity.ca):
            if not path.is_file():
                raise HubConfigError(f"hub identity {self.identity.hub_id!r}: missing {path}")

    @classmethod
    def from_site(cls, site_dir: Path, db_url: str | None = None, state_dir: Path | None = None,
                  hub_id: str = "hub", share_group: str | None = None, broker: str | None = None) -> WorkerConfig:
        site_dir = check_hub_site(site_dir, hub_id)
        try:
            info = load_site_info(site_dir)
            identity = hub_identity(site_dir, hub_id)
        except LinkError as exc:
            raise HubConfigError(str(exc)) from None
        host, port = info.broker_host, info.broker_port
        if broker:
            host, port = parse_host_port(broker)
        state = Path(state_dir) if state_dir else site_dir / DEFAULT_STATE_SUBDIR
        url = db_url or f"sqlite:///{state / DEFAULT_DB_FILE}"
        return cls(site_dir, url, state, host, port, identity, share_group)


def check_hub_site(site_dir: Path | str, hub_id: str = "hub") -> Path:
    """`site_dir` if it may be given to a hub: its deploy view, never the technician's whole site
    directory (CA keys, every device's TLS key), which the hub would otherwise read as it reads a view."""
    site_dir = Path(site_dir)
    found = ca_keys_in(site_dir)
    if found:
        raise HubConfigError(f"{site_dir} is a whole site directory (it holds {found[0].relative_to(site_dir)}, "
                             f"which a hub must not be given): run the hub on its view {hub_view(site_dir, hub_id)} "
                             "(`mch-provision export` writes it; copy it to the hub machine)")
    return site_dir


def default_db_url(site_dir: Path, state_dir: Path | None = None) -> str:
    state = Path(state_dir) if state_dir else Path(site_dir) / DEFAULT_STATE_SUBDIR
    return f"sqlite:///{state / DEFAULT_DB_FILE}"


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise HubConfigError(f"broker {text!r}: want HOST:PORT")
    return host, int(port)
