"""The EMQX cluster configuration keeps the single-broker rules (mTLS, CRL, ACL) in step with Mosquitto's.

EMQX itself is not installable here (no Debian package, no network for its release tarball), so
this holds the files to acl.tmpl and to the contract's topic kinds rather than running a cluster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from mch_link.sitefiles import revoked_path
from mch_link.topics import DOWNLINK_KINDS, UPLINK_KINDS, Kind
from mqtt_broker_config import cluster

CLUSTER = Path(str(resources.files("mqtt_broker_config"))) / "cluster"
ACL_TMPL = Path(str(resources.files("mqtt_broker_config"))) / "acl.tmpl"


def emqx_topics(action: str, subject: str) -> set[str]:
    out: set[str] = set()
    for m in re.finditer(r"\{allow, ([^,]+(?:, \{re, \"[^\"]+\"\}\})?), (publish|subscribe), \[([^\]]*)\]\}\.",
                         (CLUSTER / "acl.conf").read_text()):
        if m.group(2) == action and m.group(1).strip() == subject:
            out |= {t.strip().strip('"') for t in m.group(3).replace("\n", " ").split(",")}
    return out


def mosquitto_device_topics(access: str) -> set[str]:
    return {line.split()[2].replace("%u", "${username}") for line in ACL_TMPL.read_text().splitlines()
            if line.startswith(f"pattern {access} ")}


def test_device_rules_match_mosquitto_and_the_contract() -> None:
    publish, subscribe = emqx_topics("publish", "all"), emqx_topics("subscribe", "all")
    assert publish == mosquitto_device_topics("write")
    assert subscribe == mosquitto_device_topics("read")
    kinds = {t.rsplit("/", 1)[1] for t in publish}
    assert {k.value for k in UPLINK_KINDS} <= kinds and not kinds & {k.value for k in DOWNLINK_KINDS}


def test_hub_rules() -> None:
    hub = '{username, {re, "^hub(-[0-9]+)?$"}}'
    assert emqx_topics("subscribe", hub) == {"$share/hub/mch/v1/+/+", "mch/v1/+/+"}
    assert emqx_topics("publish", hub) == {f"mch/v1/+/{k.value}" for k in (Kind.ACK, Kind.CMD, Kind.RESPONSE)}
    text = (CLUSTER / "acl.conf").read_text()
    assert text.rstrip().endswith("{deny, all}.")
    assert text.index('{deny, all, subscribe, ["$share/#"') > text.index("$share/hub/")


def test_listener_is_mutual_tls_with_crl_only() -> None:
    conf = (CLUSTER / "emqx.conf").read_text()
    for line in ("listeners.tcp.default.enable = false", "listeners.ws.default.enable = false",
                 "verify = verify_peer", "fail_if_no_peer_cert = true", "enable_crl_check = true",
                 "peer_cert_as_username = cn", "peer_cert_as_clientid = cn", "retain_available = false",
                 "no_match = deny", "shared_subscription = true"):
        assert re.search(rf"^\s*{re.escape(line)}", conf, re.M), line


def test_rendered_acl_denies_revoked_identities_before_any_allow(site: Any, enroll_device: Any,
                                                                 tmp_path: Path) -> None:
    enroll_device("kiosk-007")
    enroll_device("kiosk-008")
    site.revoke("kiosk-007")
    r = subprocess.run([sys.executable, "-m", "mqtt_broker_config.cluster", "--site", str(site.path),
                        "--out", str(tmp_path / "emqx")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    acl = (tmp_path / "emqx" / "acl.conf").read_text()
    deny = '{deny, {username, "kiosk-007"}, all, ["#"]}.'
    assert deny in acl and acl.index(deny) < acl.index("{allow,") and "kiosk-008" not in acl
    assert (tmp_path / "emqx" / "emqx.conf").read_text() == (CLUSTER / "emqx.conf").read_text()
    assert cluster.render_acl(site.path).count("{deny, {username,") == 1
    revoked_path(site.path).unlink()  # a site whose revoked list cannot be read: fail closed
    r = subprocess.run([sys.executable, "-m", "mqtt_broker_config.cluster", "--site", str(site.path),
                        "--out", str(tmp_path / "emqx2")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot read" in r.stderr
