"""The simulator as a process: HTTP answers, faults on demand, what it keeps survives a restart."""

from __future__ import annotations

import httpx
import pytest

from tests.county_simulator.test_transaction import PAT, PAT_URL, create, tx
from tests.support.county import CountyProcess

pytestmark = pytest.mark.integration


def post(county: CountyProcess, body: object, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(county.url, json=body, timeout=timeout, headers={"Content-Type": "application/fhir+json"})


def test_transaction_faults_and_restart(county: CountyProcess) -> None:
    assert httpx.get(f"{county.url}/metadata").json()["fhirVersion"] == "4.0.1"
    r = post(county, tx(create(PAT, PAT_URL)))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    assert r.json()["type"] == "transaction-response"
    county.faults("429", count=1, retry_after_s=7)
    r = post(county, tx(create(PAT, PAT_URL)))
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    county.faults("503", count=1)
    assert post(county, tx(create(PAT, PAT_URL))).status_code == 503
    county.faults("reject", count=1)
    r = post(county, tx(create(PAT, PAT_URL)))
    assert r.status_code == 422 and r.json()["resourceType"] == "OperationOutcome"
    county.faults("timeout", count=1, delay_s=2.0)
    with pytest.raises(httpx.ReadTimeout):
        post(county, tx(create({**PAT, "identifier": [{"system": "urn:s:patient", "value": "P9"}]})), timeout=0.5)
    assert post(county, "not a bundle").status_code == 400
    assert httpx.post(county.url, content=b"\xff", timeout=5).status_code == 400
    county.restart()
    assert len(county.search("Patient")) == 2  # P1, and P9 stored before its late answer
    assert county.search("Patient", "urn:s:patient|P9")[0]["identifier"][0]["value"] == "P9"
    assert httpx.post(f"{county.admin}/faults", json={"mode": "explode"}).status_code == 400


def test_refuses_a_non_loopback_address() -> None:
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "county_simulator", "--data", "/nonexistent", "--host", "10.1.2.3"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "loopback only" in r.stderr
