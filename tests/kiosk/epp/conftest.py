from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.epp.driver import PinPad, tdes_responder
from kiosk.epp.simulator import EppHandle, start_on_pty

AUTH_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # synthetic test authentication key


@pytest.fixture
def epp_sim() -> Iterator[EppHandle]:
    handle = start_on_pty(AUTH_KEY)
    yield handle
    handle.stop()


@pytest.fixture
def pad(epp_sim: EppHandle, open_pty_port) -> PinPad:
    pad = PinPad(open_pty_port(epp_sim.port_url, "epp"))
    pad.authenticate(tdes_responder(AUTH_KEY))
    return pad
