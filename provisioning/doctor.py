"""`mch-provision doctor`: is this site fit to run? Each check says what it found and the fix.

    CA certificates   root and issuing: expired = fail, within 90 days = warn
    CRL               nextUpdate passed = fail (every device locked out), within 7 days = warn
    registry          every registry/<id>.json parses (mch_link.registry)
    journal           the technician journal's chain is intact
    broker config     `mch-broker render` (config and ACL) succeeds on deploy/broker
    hub               GET <hub-url>/healthz answers 200 (only with --hub-url)

The broker config is rendered by the broker's own command in a subprocess (components meet
on the command line and the wire, never by import).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mch_link import registry
from mch_link.sitefiles import broker_view
from provisioning import pki
from provisioning.errors import ProvisioningError
from provisioning.journal import Journal

OK, WARN, FAIL = "ok", "warn", "fail"
CA_WARN_BEFORE = timedelta(days=90)
CRL_WARN_BEFORE = timedelta(days=7)
HTTP_TIMEOUT_S = 5.0
RENDER_TIMEOUT_S = 30.0
BROKER_VIEW_FILES = (registry.SITE_FILE, "ca/chain.pem", "ca/crl.pem", "broker/broker.crt.pem", "broker/broker.key.pem")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _expiry(name: str, when: datetime, now: datetime, warn_before: timedelta, fix: str) -> Check:
    if when <= now:
        return Check(name, FAIL, f"expired {when:%Y-%m-%d %H:%M} UTC", fix)
    if when - now < warn_before:
        return Check(name, WARN, f"expires {when:%Y-%m-%d %H:%M} UTC ({(when - now).days} days)", fix)
    return Check(name, OK, f"valid until {when:%Y-%m-%d}")


def check_ca(site: Path, now: datetime) -> list[Check]:
    out = []
    for name, fix in (("root CA", "plan a new site CA; every device needs a new certificate"),
                      ("issuing CA", "re-issue the issuing CA from the root (offline key) before it expires")):
        path = site / "ca" / f"{name.split()[0]}.crt.pem"
        try:
            cert = pki.cert_from_pem(path.read_bytes(), str(path))
        except (OSError, ProvisioningError) as exc:
            out.append(Check(name, FAIL, f"cannot read {path}: {exc}", "restore ca/ from the site backup"))
            continue
        out.append(_expiry(name, cert.not_valid_after_utc, now, CA_WARN_BEFORE, fix))
    return out


def check_crl(site: Path, now: datetime) -> Check:
    path = site / "ca" / "crl.pem"
    fix = "mch-provision renew-crl --site SITE, then copy deploy/broker and run mch-broker reload"
    try:
        next_update = pki.crl_from_pem(path.read_bytes(), str(path)).next_update_utc
    except (OSError, ProvisioningError) as exc:
        return Check("CRL", FAIL, f"cannot read {path}: {exc}", fix)
    if next_update is None:
        return Check("CRL", FAIL, "no nextUpdate", fix)
    return _expiry("CRL", next_update, now, CRL_WARN_BEFORE, fix)


def check_registry(site: Path) -> Check:
    paths = sorted((site / registry.REGISTRY_DIR).glob("*.json"))
    bad = []
    for path in paths:
        try:
            registry.load_entry(site, path.stem)
        except registry.RegistryError as exc:
            bad.append(f"{path.name}: {exc}")
    if bad:
        return Check("registry", FAIL, "; ".join(bad), "restore those entries from the site backup")
    return Check("registry", OK, f"{len(paths)} entr{'y parses' if len(paths) == 1 else 'ies parse'}")


def check_journal(site: Path) -> Check:
    try:
        entries = Journal(site).verify()
    except ProvisioningError as exc:
        return Check("journal", FAIL, str(exc), "keep journal/ as evidence and report it (docs/provisioning.md)")
    return Check("journal", OK, f"{len(entries)} entries, chain intact")


def _broker_command() -> str:
    return shutil.which("mch-broker") or str(Path(sys.executable).parent / "mch-broker")


def check_broker_config(site: Path) -> Check:
    view = broker_view(site)
    fix = "mch-provision export --site SITE (rewrites deploy/broker), then read the error above"
    if not view.is_dir():
        return Check("broker config", FAIL, f"no broker view {view}", fix)
    missing = [rel for rel in BROKER_VIEW_FILES if not (view / rel).is_file()]
    if missing:
        return Check("broker config", FAIL, f"{view} lacks {', '.join(missing)}", fix)
    with tempfile.TemporaryDirectory(prefix="mch-doctor-") as run_dir:
        for extra in ([], ["--acl"]):
            try:
                done = subprocess.run([_broker_command(), "render", "--site", str(view), "--run-dir", run_dir, *extra],
                                      capture_output=True, text=True, timeout=RENDER_TIMEOUT_S, check=False,
                                      stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return Check("broker config", FAIL, f"mch-broker render did not run: {exc}",
                             "install the broker component (pip install '.[broker]')")
            if done.returncode != 0:
                return Check("broker config", FAIL, (done.stderr.strip() or f"exit {done.returncode}")[-300:], fix)
    return Check("broker config", OK, "mosquitto.conf and ACL render")


def check_hub(hub_url: str | None) -> Check:
    if not hub_url:
        return Check("hub", WARN, "not checked", "give --hub-url http://HUB:PORT to check the hub answers")
    url = hub_url.rstrip("/") + "/healthz"
    if not url.startswith(("http://", "https://")):
        return Check("hub", FAIL, f"{hub_url} is not an http(s) URL", "give --hub-url http://HUB:PORT")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310 (scheme checked)
            return Check("hub", OK, f"{url}: {answer.read(200).decode(errors='replace').strip()}")
    except urllib.error.HTTPError as exc:
        body = exc.read(200).decode(errors="replace").strip()
        return Check("hub", FAIL, f"{url}: HTTP {exc.code} {body}", "look at the hub's log (its store or workers)")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("hub", FAIL, f"{url}: {reason}", "is mch-hub web running, and the address and firewall right?")


def diagnose(site: Path, hub_url: str | None = None, now: datetime | None = None) -> list[Check]:
    if not (site / registry.SITE_FILE).is_file():
        raise ProvisioningError(f"{site} is not a site (no {registry.SITE_FILE}); give --site the site directory")
    now = now or pki.now_utc()
    return [*check_ca(site, now), check_crl(site, now), check_registry(site), check_journal(site),
            check_broker_config(site), check_hub(hub_url)]
