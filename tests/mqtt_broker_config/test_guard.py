"""mch_guard, the broker's ACL plugin: what the acl_file of mosquitto 2.0.11 cannot refuse."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mch_link import envelope
from mch_link.envelope import Record
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.topics import UPLINK_KINDS, Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.helpers import NOW_MS, sim_body
from tests.central_hub.rawdevice import RawDevice
from tests.mqtt_broker_config.probe import NOT_AUTHORIZED, QUIET_S, Probe, connect
from tests.support.broker import device_tls, hub_tls, start_broker
from tests.support.hub import HubFactory, wait_for_records

pytestmark = pytest.mark.integration

WAIT_S = 60.0  # the loss, when there is one, is for good (a raw device sends once): waiting longer cannot hide it
ENVELOPES = 60
RECORDS_PER_ENVELOPE = 10
SUCCESS = 0x00


@pytest.fixture
def two_hub_broker(site: Site) -> Iterator[BrokerProcess]:
    """A broker started after hub-1 and hub-2 exist (their ACL blocks and guard entries)."""
    site.issue_hub_identity("hub-1")
    site.issue_hub_identity("hub-2")
    proc = start_broker(site.path)
    yield proc
    proc.stop()


def seal(bundle: Path, counter: int, first_id: int) -> tuple[str, bytes]:
    keys = LinkKeys.read(bundle / KEYS_FILE)
    where = topic(keys.device_id, Kind.RECORDS)
    recs = [Record(i, sim_body(i), NOW_MS) for i in range(first_id, first_id + RECORDS_PER_ENVELOPE)]
    return where, envelope.seal(keys.uplink, keys.device_id, where, counter, "sim/1", recs, NOW_MS)


def test_a_device_cannot_join_the_hubs_share_group(two_hub_broker: BrokerProcess, site: Site, enroll_device,
                                                    hub_factory: HubFactory) -> None:
    """Scenario 6: 2.0.11's acl_file granted `$share/hub/...` to a device, which then took every
    third message of the round robin; the broker dropped those (read check on delivery). With
    two hub workers and that rogue member, a third of the records never arrived."""
    broker = two_hub_broker
    bundle, rogue_bundle = enroll_device("sim-001"), enroll_device("kiosk-666", "kiosk")
    hubs = [hub_factory(site.path, hub_id=h, share_group="hub", broker=broker) for h in ("hub-1", "hub-2")]
    rogue = connect(broker, device_tls(rogue_bundle), "kiosk-666")
    codes = [rogue.subscribe(f"$share/hub/mch/v1/+/{kind.value}").value for kind in sorted(UPLINK_KINDS)]
    assert codes == [NOT_AUTHORIZED] * len(UPLINK_KINDS)
    dev = RawDevice(bundle, broker.host, broker.port)
    try:
        infos = [dev.publish(*seal(bundle, i + 1, i * RECORDS_PER_ENVELOPE + 1)) for i in range(ENVELOPES)]
        for info in infos:
            info.wait_for_publish(WAIT_S)
        total = ENVELOPES * RECORDS_PER_ENVELOPE
        stored = wait_for_records(hubs[0].db_url, total, WAIT_S)  # each envelope sent once
        assert stored == total, f"{stored}/{total} stored:\n" + "\n".join(h.log_text()[-2000:] for h in hubs)
        assert dev.wait_for(lambda: dev.acked_ids() == set(range(1, total + 1)), WAIT_S)
        assert rogue.messages == []
        assert "refused shared subscription $share/hub/mch/v1/+/rec to kiosk-666" in broker.log_text()
    finally:
        dev.close()
        rogue.close()


def test_hub_identities_keep_their_shared_subscription(two_hub_broker: BrokerProcess, site: Site) -> None:
    hub = connect(two_hub_broker, hub_tls(site.path, "hub-1"), "hub-1")
    assert hub.subscribe("$share/hub/mch/v1/+/rec").value == 1
    hub.close()


def test_a_device_may_not_publish_retained(broker: BrokerProcess, site: Site, enroll_device) -> None:
    """A retained record on an uplink topic would be handed again to every new subscriber."""
    hub = connect(broker, hub_tls(site.path), "hub")
    assert hub.subscribe("mch/v1/+/+").value == 1
    dev = connect(broker, device_tls(enroll_device("kiosk-001", "kiosk")), "kiosk-001")
    try:
        for kind in sorted(UPLINK_KINDS):
            assert dev.publish(topic("kiosk-001", kind), b"retained", retain=True).value == NOT_AUTHORIZED
        assert dev.publish(topic("kiosk-001", Kind.STATE), b"plain").value == SUCCESS
        assert hub.wait_messages(1) == [(topic("kiosk-001", Kind.STATE), b"plain")]
        late: Probe = connect(broker, hub_tls(site.path), "hub")  # takes over the session: no retained copy
        assert late.subscribe("mch/v1/+/+").value == 1
        time.sleep(QUIET_S)
        assert late.messages == []
        late.close()
    finally:
        dev.close()


def test_revoked_hub_worker_is_disconnected_on_reload(two_hub_broker: BrokerProcess, site: Site) -> None:
    """A hub identity revoked (`mch-provision revoke hub-1`) loses its session and its ACL block."""
    worker = connect(two_hub_broker, hub_tls(site.path, "hub-1"), "hub-1")
    other = connect(two_hub_broker, hub_tls(site.path, "hub-2"), "hub-2")
    site.revoke_hub_identity("hub-1")
    two_hub_broker.reload()
    assert worker.disconnected.wait(5)
    worker.client.loop_stop()
    assert not other.disconnected.is_set()
    with pytest.raises(ConnectionRefusedError):
        connect(two_hub_broker, hub_tls(site.path, "hub-1"), "hub-1")
    other.close()


def test_a_broken_policy_on_reload_keeps_the_previous_one(broker: BrokerProcess, site: Site, enroll_device) -> None:
    """The policy is rendered by mch-broker; should the file be damaged, a reload keeps the last
    good policy (the guard stays up) and says so in the log."""
    rogue = connect(broker, device_tls(enroll_device("kiosk-666", "kiosk")), "kiosk-666")
    policy = broker.run_dir / "guard.policy"
    policy.write_text("hub hub\nwhatever kiosk-666\n" + "x" * 400 + "\n")
    offset = len(broker.log_text())
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGHUP)  # not broker.reload(): that would render a good policy again
    deadline = time.monotonic() + 5
    while "keeping the previous policy" not in broker.log_text()[offset:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "keeping the previous policy" in broker.log_text()[offset:]
    assert rogue.subscribe("$share/hub/mch/v1/+/rec").value == NOT_AUTHORIZED
    rogue.close()
