"""The rendered mosquitto.conf and ACL (no broker process)."""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

import pytest

from mch_link.topics import DOWNLINK_KINDS, UPLINK_KINDS
from mqtt_broker_config import render, rundir
from mqtt_broker_config.errors import BrokerConfigError
from provisioning.site import Site
from tests.support.broker import broker_site

NOBODY_UID = 65534
REQUIRED_LINES = (
    "per_listener_settings false",
    "allow_anonymous false",
    "persistence true",
    "autosave_interval 60",
    "max_queued_messages 100000",
    "max_inflight_messages 20",
    f"memory_limit {512 * 1024 * 1024}",
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    "tls_version tlsv1.2",
)


def conf_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_config_has_the_verified_settings(site: Site, tmp_path: Path) -> None:
    conf = render.render_config(broker_site(site.path), tmp_path / "run", 18883, run_user="mosquitto")
    lines = conf_lines(conf)
    for required in REQUIRED_LINES:
        assert required in lines, required
    run = (tmp_path / "run").resolve()
    assert "listener 18883 127.0.0.1" in lines
    assert f"persistence_location {run}/data/" in lines
    assert f"crlfile {run}/tls/crl.pem" in lines
    assert f"cafile {run}/tls/chain.pem" in lines
    assert f"log_dest file {run}/mosquitto.log" in lines
    assert f"acl_file {run}/acl" in lines
    assert "user mosquitto" in lines
    # every TLS option comes after the one listener line
    listener_at = lines.index("listener 18883 127.0.0.1")
    for option in ("cafile", "certfile", "keyfile", "crlfile", "require_certificate"):
        assert next(i for i, line in enumerate(lines) if line.startswith(option)) > listener_at
    assert sum(line.startswith("listener") for line in lines) == 1
    assert "$" not in conf.replace("$share", "")  # every template variable substituted


def test_queue_sizing_arithmetic_is_in_the_comment(site: Site, tmp_path: Path) -> None:
    conf = render.render_config(broker_site(site.path), tmp_path, 18883, run_user="mosquitto")
    assert "48 x 1800 = 86 400  ->  100 000 messages" in conf


def test_acl_confines_devices_to_their_subtree(site: Site) -> None:
    acl = conf_lines(render.render_acl(broker_site(site.path)))
    patterns = {line for line in acl if line.startswith("pattern")}
    assert patterns == {f"pattern write mch/v1/%u/{k.value}" for k in UPLINK_KINDS} | {
        f"pattern read mch/v1/%u/{k.value}" for k in DOWNLINK_KINDS}
    assert acl[acl.index("user hub"):] == ["user hub", "topic read mch/v1/+/+", "topic write mch/v1/+/ack",
                                           "topic write mch/v1/+/cmd", "topic write mch/v1/+/rsp"]
    assert not [line for line in acl if "readwrite" in line or line.endswith(" #")]


def test_every_hub_identity_gets_its_block(site: Site) -> None:
    site.issue_hub_identity("hub-1")
    site.issue_hub_identity("hub-2")
    acl = render.render_acl(broker_site(site.path))
    assert [line for line in acl.splitlines() if line.startswith("user ")] == ["user hub", "user hub-1", "user hub-2"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"port": 0}, "port 0 out of range"),
    ({"port": 70000}, "out of range"),
    ({"host": "127.0.0.1\nallow_anonymous true"}, "listen host"),
])
def test_bad_inputs_are_refused(site: Site, tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"port": 18883, "host": "127.0.0.1"} | kwargs
    with pytest.raises(BrokerConfigError, match=message):
        render.render_config(broker_site(site.path), tmp_path, args["port"], args["host"], run_user="mosquitto")


def test_run_dir_with_unsafe_characters_is_refused(site: Site, tmp_path: Path) -> None:
    with pytest.raises(BrokerConfigError, match="run dir"):
        render.render_config(broker_site(site.path), tmp_path / "a b", 18883, run_user="mosquitto")


def test_settings_validate_themselves() -> None:
    with pytest.raises(BrokerConfigError, match="max_queued_messages must be > 0"):
        render.BrokerSettings(max_queued_messages=0)
    with pytest.raises(BrokerConfigError, match="persistent_client_expiration"):
        render.BrokerSettings(persistent_client_expiration="forever")
    assert render.BrokerSettings(max_queued_messages=5).max_queued_messages == 5


def test_not_a_site(tmp_path: Path) -> None:
    with pytest.raises(BrokerConfigError, match="cannot read"):
        render.render_config(tmp_path, tmp_path, 18883, run_user="mosquitto")


def test_run_user_is_mosquitto_when_root_else_ourselves() -> None:
    expected = "mosquitto" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert rundir.run_user().name == expected
    with pytest.raises(BrokerConfigError, match="does not exist"):
        rundir.run_user("no-such-user-mch")


def test_unreachable_run_dir_is_a_clear_error(tmp_path: Path) -> None:
    # pytest's tmp_path lives under a 0700 directory that an unprivileged broker user cannot enter
    nobody = rundir.RunUser("nobody", NOBODY_UID, NOBODY_UID)
    with pytest.raises(BrokerConfigError, match=re.escape("'nobody' cannot enter")):
        rundir.check_reachable(tmp_path / "run", nobody)
    rundir.check_reachable(Path("/tmp"), nobody)
