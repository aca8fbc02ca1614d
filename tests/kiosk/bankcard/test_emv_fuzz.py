"""Whatever a card answers, the read-only flow ends in a result or one of our errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.channel import ReadOnlyChannel
from kiosk.bankcard.emv import EmvReader
from kiosk.bankcard.errors import BankCardError
from kiosk.bankcard.virtual_card import VirtualPbocCard

pytestmark = pytest.mark.fuzz


class ScriptedCard:
    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers

    def transmit(self, command: bytes) -> bytes:
        return self.answers.pop(0) if self.answers else bytes.fromhex("6A82")


class CorruptingCard:
    """A real card profile whose n-th response is replaced or cut."""

    def __init__(self, index: int, replacement: bytes) -> None:
        self.card = VirtualPbocCard(PROFILES["pse"])
        self.index = index
        self.replacement = replacement
        self.count = 0

    def transmit(self, command: bytes) -> bytes:
        self.count += 1
        real = self.card.process(command)
        if self.count == self.index:
            return self.replacement + real[-2:] if self.replacement[:1] != b"!" else real[: len(real) // 2]
        return real


answers = st.lists(st.binary(max_size=80).map(lambda b: b + bytes.fromhex("9000")) | st.binary(max_size=4),
                   max_size=12)


@settings(max_examples=200, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(answers)
def test_random_answers_end_in_our_errors(script: list[bytes]) -> None:
    try:
        EmvReader(ReadOnlyChannel(ScriptedCard(list(script)))).read()
    except BankCardError:
        return


@settings(max_examples=200, deadline=1000)
@given(st.integers(1, 9), st.binary(max_size=40) | st.just(b"!"))
def test_one_corrupted_response_in_a_real_session(index: int, replacement: bytes) -> None:
    try:
        data = EmvReader(ReadOnlyChannel(CorruptingCard(index, replacement))).read()
    except BankCardError:
        return
    assert data.pan  # when the corruption hit nothing that matters, the read is still right
