"""A real cupsd (started by scripts/setup.d/30-kiosk.sh) with IPP Everywhere printers simulated by
``ippeveprinter`` (cups-ipp-utils): one per test, on an ephemeral port, with a temporary queue."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.a4printer.simulator import SimulatedA4Printer

REPO = Path(__file__).resolve().parents[3]
SETUP_SCRIPT = REPO / "scripts" / "setup.d" / "30-kiosk.sh"
CUPS_SERVER = "localhost:631"


@pytest.fixture(scope="session")
def cupsd() -> str:
    subprocess.run(["bash", str(SETUP_SCRIPT)], check=True, timeout=60, capture_output=True)
    return CUPS_SERVER


@pytest.fixture
def simulated_printer(cupsd: str, tmp_path: Path) -> Iterator[Callable[[str], SimulatedA4Printer]]:
    printers: list[SimulatedA4Printer] = []

    def start(kind: str = "ok") -> SimulatedA4Printer:
        printer = SimulatedA4Printer(tmp_path / f"printer{len(printers)}", kind=kind, server=cupsd,
                                     queue_prefix="mchtest")
        printers.append(printer)
        return printer

    yield start
    for printer in printers:
        printer.stop()
