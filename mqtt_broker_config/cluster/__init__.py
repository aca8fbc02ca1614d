"""EMQX cluster configuration for a site: the single broker's rules, rendered with the site's revoked identities."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mch_link.errors import LinkError
from mch_link.sitefiles import load_revoked
from mqtt_broker_config.errors import BrokerConfigError

MARKER = "%% REVOKED IDENTITIES"
FILES = ("emqx.conf", "acl.conf")


def template(name: str) -> str:
    return (resources.files("mqtt_broker_config.cluster") / name).read_text(encoding="utf-8")


def render_acl(site_dir: Path) -> str:
    """acl.conf with a deny line for each revoked identity of the site, ahead of every allow rule."""
    try:
        revoked = sorted(load_revoked(site_dir))
    except LinkError as exc:
        raise BrokerConfigError(str(exc)) from None
    lines = [f'{{deny, {{username, "{name}"}}, all, ["#"]}}.' for name in revoked]
    text = template("acl.conf")
    if MARKER not in text:
        raise BrokerConfigError("acl.conf template lost its revoked-identities marker")
    return text.replace(MARKER, "\n".join(lines) if lines else "%% (no revoked identity)")


def write(site_dir: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        target = out_dir / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(render_acl(site_dir) if name == "acl.conf" else template(name), encoding="utf-8")
        tmp.replace(target)  # EMQX never reads a half-written file
        written.append(target)
    return written
