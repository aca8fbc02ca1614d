"""The provisioning bundle as the firmware reads it (bundles made by mch-provision are
exercised in test_config_bundle.py; here: the error paths)."""

import json

from mchfw import config

KEYS = {"format": "mch-link-keys/1", "device_id": "bridge-ctg-001",
        "uplink": {"k": "00" * 16, "base_iv": "11" * 13}, "downlink": {"k": "22" * 16, "base_iv": "33" * 13}}


def _write(tmp, cfg, keys):
    with open(tmp + "/config.json", "w") as f:
        f.write(json.dumps(cfg))
    with open(tmp + "/link-keys.json", "w") as f:
        f.write(json.dumps(keys))


def _error(tmp):
    try:
        config.Config(tmp)
    except config.ConfigError as exc:
        return str(exc)
    return None


def test_reads_both_broker_layouts(tmp):
    _write(tmp, {"device_id": "bridge-ctg-001", "broker_host": "h", "broker_port": 8883}, KEYS)
    c = config.Config(tmp)
    assert (c.broker_host, c.broker_port, c.uplink_key, c.downlink_iv) == ("h", 8883, bytes(16), b"\x33" * 13)
    _write(tmp, {"device_id": "bridge-ctg-001", "broker": {"host": "b", "port": 1}}, KEYS)
    assert config.Config(tmp).broker_host == "b"


def test_bad_bundles_are_named_errors(tmp):
    assert "config.json" in _error(tmp)
    _write(tmp, {"device_id": "bridge-ctg-001"}, KEYS)
    assert "broker" in _error(tmp)
    other = dict(KEYS)
    other["device_id"] = "bridge-ctg-999"
    _write(tmp, {"device_id": "bridge-ctg-001", "broker_host": "h", "broker_port": 1}, other)
    assert "bridge-ctg-999" in _error(tmp)
    short = dict(KEYS)
    short["uplink"] = {"k": "00", "base_iv": "11" * 13}
    _write(tmp, {"device_id": "bridge-ctg-001", "broker_host": "h", "broker_port": 1}, short)
    assert "uplink" in _error(tmp)
    _write(tmp, {"device_id": "bridge-ctg-001", "broker_host": "h", "broker_port": 1}, KEYS)
    try:
        config.Config(tmp).tls_material()
        raise AssertionError("missing certificates not reported")
    except config.ConfigError as exc:
        assert "certificate" in str(exc)


def test_pem_to_der_takes_the_first_block(tmp):
    pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAwQF\n-----END"
    assert config.pem_to_der(pem) == b"\x00\x01\x02"
