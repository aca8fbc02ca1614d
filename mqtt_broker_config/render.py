"""Render mosquitto.conf and the ACL file for a site from the templates in this package."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from mch_link.errors import LinkError
from mch_link.registry import REGISTRY_DIR, SiteInfo, load_site_info, validate_hub_id
from mch_link.sitefiles import broker_view, ca_keys_in, load_revoked, validate_site_id
from mch_link.topics import PREFIX, Kind
from mqtt_broker_config.errors import BrokerConfigError

log = logging.getLogger(__name__)

MOSQUITTO_VERSION = "2.0.11"
CONF_TEMPLATE = "mosquitto.conf.tmpl"
ACL_TEMPLATE = "acl.tmpl"

# site layout (docs/link-contract.md): what the broker reads from the site directory
SITE_CHAIN = Path("ca/chain.pem")
SITE_CRL = Path("ca/crl.pem")
SITE_BROKER_CERT = Path("broker/broker.crt.pem")
SITE_BROKER_KEY = Path("broker/broker.key.pem")

# names inside the run dir
TLS_DIR = "tls"
DATA_DIR = "data"
CONF_FILE = "mosquitto.conf"
ACL_FILE = "acl"
POLICY_FILE = "guard.policy"
LOG_FILE = "mosquitto.log"
PID_FILE = "mosquitto.pid"

# the ACL plugin, built by scripts/setup.d/20-broker.sh into a root-owned directory
GUARD_PLUGIN_ENV = "MCH_BROKER_GUARD_PLUGIN"
GUARD_PLUGIN_DEFAULT = Path("/usr/local/lib/mch-broker/mch_guard.so")

MIB = 1024 * 1024
PORT_MIN, PORT_MAX = 1, 65535
# a run dir path goes into the config verbatim: no spaces, no comment or newline characters
SAFE_PATH_RE = re.compile(r"[A-Za-z0-9_./+-]+")
SAFE_HOST_RE = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class BrokerSettings:
    """Tunables with their reasons in the template's comments."""

    max_queued_messages: int = 100_000
    max_queued_bytes: int = 256 * MIB  # per client; the hub's 100 000 x <= 2 KiB fits
    max_connections: int = 2000
    max_inflight_messages: int = 20
    memory_limit_bytes: int = 512 * MIB
    max_packet_size_bytes: int = 1 * MIB
    autosave_interval_s: int = 60
    persistent_client_expiration: str = "30d"
    max_keepalive_s: int = 300

    def __post_init__(self) -> None:
        for name in ("max_queued_messages", "max_queued_bytes", "max_connections", "max_inflight_messages", "memory_limit_bytes",
                     "max_packet_size_bytes", "autosave_interval_s", "max_keepalive_s"):
            if getattr(self, name) <= 0:
                raise BrokerConfigError(f"broker setting {name} must be > 0, got {getattr(self, name)}")
        if not re.fullmatch(r"[0-9]+[hdwmy]", self.persistent_client_expiration):
            raise BrokerConfigError(
                f"persistent_client_expiration {self.persistent_client_expiration!r}: want e.g. '30d'")


def _template(name: str) -> Template:
    return Template(resources.files("mqtt_broker_config").joinpath(name).read_text())


def _safe_path(path: Path, what: str) -> str:
    text = str(path)
    if not SAFE_PATH_RE.fullmatch(text):
        raise BrokerConfigError(f"{what} {text!r}: mosquitto.conf paths may use only letters, digits and ./_+-")
    return text


def guard_plugin_path() -> Path:
    """The built mch_guard plugin; without it the broker would grant devices the hub's share group."""
    path = Path(os.environ.get(GUARD_PLUGIN_ENV) or GUARD_PLUGIN_DEFAULT)
    if not path.is_file():
        raise BrokerConfigError(f"broker ACL plugin {path} is missing: build it with "
                                f"`bash scripts/setup.d/20-broker.sh` (or set ${GUARD_PLUGIN_ENV})")
    return path


def check_broker_view(site_dir: Path) -> None:
    """The broker is given its view of the site, never the technician's whole site directory
    (CA keys, every device's link keys in the registry)."""
    found = ca_keys_in(site_dir) + sorted(Path(site_dir).glob(f"{REGISTRY_DIR}/*.json"))[:1]
    if found:
        raise BrokerConfigError(f"{site_dir} holds {found[0].relative_to(site_dir)}, which the broker must not be "
                                f"given: run it on the broker's view, {broker_view(site_dir)} "
                                "(`mch-provision export` writes it; copy it to the broker machine)")


def broker_site_dir(site_dir: Path) -> Path:
    """The directory the broker reads: `site_dir` if it is a broker view; for a technician's
    whole site (which `mch-broker --site` was given before views existed) its view
    `<site>/deploy/broker`, so the broker still reads nothing else; a whole site without a
    view is refused (`mch-provision migrate` writes it)."""
    site_dir = Path(site_dir)
    if not ca_keys_in(site_dir):
        return site_dir
    view = broker_view(site_dir)
    if not (view / "site.json").is_file():
        raise BrokerConfigError(f"{site_dir} is a whole site directory (CA keys) and has no broker view "
                                f"{view}: run `mch-provision migrate --site {site_dir}` and give the broker that view")
    log.warning("%s is a whole site directory: the broker reads only its view %s (copy that view to the "
                "broker machine)", site_dir, view)
    return view


def site_info(site_dir: Path) -> SiteInfo:
    """site.json with the site id and every hub identity validated (they are rendered into files)."""
    check_broker_view(site_dir)
    try:
        info = load_site_info(site_dir)
        validate_site_id(info.site_id)
        for hub_id in info.hub_ids:
            validate_hub_id(hub_id)
    except LinkError as exc:
        raise BrokerConfigError(f"site {site_dir}: {exc}") from None
    return info


def hub_ids(site_dir: Path) -> tuple[str, ...]:
    ids = site_info(site_dir).hub_ids
    if not ids:
        raise BrokerConfigError(f"site {site_dir} has no hub identity (mch-provision issue-hub)")
    return ids


def render_acl(site_dir: Path) -> str:
    blocks = []
    for hub_id in hub_ids(site_dir):
        lines = [f"user {hub_id}"]
        lines += [f"topic read {PREFIX}/+/+"]
        lines += [f"topic write {PREFIX}/+/{kind.value}" for kind in (Kind.ACK, Kind.CMD, Kind.RESPONSE)]
        blocks.append("\n".join(lines))
    return _template(ACL_TEMPLATE).substitute(site_id=site_info(site_dir).site_id,
                                              hub_blocks="\n\n".join(blocks))


def render_policy(site_dir: Path) -> str:
    """The mch_guard policy: hub identities (may use $share, retain) and revoked identities."""
    hubs = hub_ids(site_dir)
    try:
        revoked = load_revoked(site_dir)
    except LinkError as exc:
        raise BrokerConfigError(f"site {site_dir}: {exc}") from None
    lines = [f"# mch_guard policy for site {site_info(site_dir).site_id}, rendered by mch-broker"]
    lines += [f"hub {h}" for h in hubs if h not in revoked]
    lines += [f"revoked {name}" for name in sorted(revoked)]
    return "\n".join(lines) + "\n"


def render_config(site_dir: Path, run_dir: Path, port: int, host: str = "127.0.0.1", *,
                  run_user: str, settings: BrokerSettings | None = None) -> str:
    settings = settings or BrokerSettings()
    if not PORT_MIN <= port <= PORT_MAX:
        raise BrokerConfigError(f"port {port} out of range {PORT_MIN}..{PORT_MAX}")
    if not SAFE_HOST_RE.fullmatch(host):
        raise BrokerConfigError(f"listen host {host!r} is not an address or host name")
    site_id = site_info(site_dir).site_id
    run = Path(run_dir).resolve()
    return _template(CONF_TEMPLATE).substitute(
        mosquitto_version=MOSQUITTO_VERSION,
        site_id=site_id,
        guard_plugin=_safe_path(guard_plugin_path(), "broker ACL plugin"),
        run_user=run_user,
        run_dir=_safe_path(run, "run dir"),
        data_dir=_safe_path(run / DATA_DIR, "data dir"),
        tls_dir=_safe_path(run / TLS_DIR, "TLS dir"),
        port=port,
        host=host,
        max_queued_messages=settings.max_queued_messages,
        max_queued_bytes=settings.max_queued_bytes,
        max_connections=settings.max_connections,
        max_inflight_messages=settings.max_inflight_messages,
        memory_limit_bytes=settings.memory_limit_bytes,
        max_packet_size_bytes=settings.max_packet_size_bytes,
        autosave_interval_s=settings.autosave_interval_s,
        persistent_client_expiration=settings.persistent_client_expiration,
        max_keepalive_s=settings.max_keepalive_s,
    )
