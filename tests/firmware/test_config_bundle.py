"""A bundle written by mch-provision loads on the unix port and its certificate and key are
accepted by MicroPython's TLS (mbedTLS) as DER."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.firmware.conftest import run_micropython

SCRIPT = """
import sys
from mchfw import config, hw
c = config.Config(sys.argv[1])
cert, key, ca = c.tls_material()
hw.tls_context(cert, key, ca)
print("OK", c.device_id, c.kind, c.broker_host, c.broker_port, len(cert), len(ca))
"""


@pytest.mark.integration
def test_provisioned_bundle_loads_on_micropython(site, tmp_path: Path) -> None:
    bundle = site.enroll("bridge-ctg-001", "bridge").bundle
    script = tmp_path / "load.py"
    script.write_text(SCRIPT)
    proc = run_micropython([str(script), str(bundle)], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    assert words[:5] == ["OK", "bridge-ctg-001", "bridge", "127.0.0.1", "8883"]
