from __future__ import annotations

import pytest

from kiosk.bankcard import apdu as a
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.channel import READ_ONLY_COMMANDS, ReadOnlyChannel
from kiosk.bankcard.emv import EmvReader
from kiosk.bankcard.errors import CardReadError, ForbiddenCommandError
from kiosk.bankcard.virtual_card import PIN_TRY_LIMIT, VirtualPbocCard

GENERATE_AC = a.CommandApdu(a.CLA_PROPRIETARY, a.INS_GENERATE_AC, 0x80, 0x00, bytes(29), 256)
VERIFY = a.CommandApdu(a.CLA_ISO, a.INS_VERIFY, 0x00, 0x80, bytes.fromhex("241234FFFFFFFFFF"))


class Recorder:
    def __init__(self, responses: list[bytes]) -> None:
        self.responses = responses
        self.sent: list[bytes] = []

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(command)
        return self.responses.pop(0)


@pytest.mark.parametrize("command", [GENERATE_AC, VERIFY,
                                     a.CommandApdu(a.CLA_ISO, a.INS_PUT_DATA, 0, 0, b"\x01"),
                                     a.CommandApdu(a.CLA_PROPRIETARY, a.INS_APPLICATION_BLOCK, 0, 0),
                                     a.CommandApdu(a.CLA_ISO, a.INS_GET_CHALLENGE, 0, 0, le=8)])
def test_state_changing_commands_never_reach_the_card(command: a.CommandApdu) -> None:
    card = VirtualPbocCard(PROFILES["pse"])
    channel = ReadOnlyChannel(card)
    EmvReader(channel).read()
    before = (card.atc, card.pin_tries_left, len(card.instructions_seen))
    with pytest.raises(ForbiddenCommandError, match="refused"):
        channel.exchange(command)
    assert (card.atc, card.pin_tries_left, len(card.instructions_seen)) == before


def test_the_virtual_card_would_count_them_so_the_guard_is_what_protects_it() -> None:
    card = VirtualPbocCard(PROFILES["pse"])
    EmvReader(ReadOnlyChannel(card)).read()
    assert a.parse_response(card.process(GENERATE_AC.encode())).ok and card.atc == 2
    assert a.parse_response(card.process(VERIFY.encode())).sw == 0x63C0 | (PIN_TRY_LIMIT - 1)


def test_full_read_uses_only_read_only_instructions() -> None:
    for name in ("pse", "ppse-only", "aid-fallback", "t0"):
        card = VirtualPbocCard(PROFILES[name])
        EmvReader(ReadOnlyChannel(card)).read()
        assert set(card.instructions_seen) <= READ_ONLY_COMMANDS
        assert card.pin_tries_left == PIN_TRY_LIMIT


def test_get_response_chains_61xx_and_6cxx_resends_with_le() -> None:
    rec = Recorder([bytes.fromhex("6104"), bytes.fromhex("0102") + bytes.fromhex("6102"),
                    bytes.fromhex("0304") + bytes.fromhex("9000")])
    r = ReadOnlyChannel(rec).exchange(a.select_by_name(b"1PAY.SYS.DDF01"))
    assert r.ok and r.data == bytes.fromhex("01020304")
    assert [c[:2] for c in rec.sent[1:]] == [bytes.fromhex("00C0")] * 2
    assert rec.sent[1][-1] == 0x04 and rec.sent[2][-1] == 0x02
    rec = Recorder([bytes.fromhex("6C05"), bytes.fromhex("0A0B0C0D0E9000")])
    r = ReadOnlyChannel(rec).exchange(a.read_record(1, 1))
    assert r.data == bytes.fromhex("0A0B0C0D0E") and rec.sent[1] == bytes.fromhex("00B2010C05")


def test_short_or_endless_responses_are_errors() -> None:
    with pytest.raises(CardReadError):
        ReadOnlyChannel(Recorder([b"\x90"])).exchange(a.read_record(1, 1))
    with pytest.raises(CardReadError, match="61xx"):
        ReadOnlyChannel(Recorder([bytes.fromhex("6101")] * 40)).exchange(a.read_record(1, 1))


def test_apdu_encoding_round_trip_and_repr_hides_data() -> None:
    cmd = a.get_processing_options(bytes.fromhex("8304") + bytes(4))
    assert cmd.encode() == bytes.fromhex("80A8000006830400000000" "00")
    assert a.parse_command(cmd.encode()) == cmd
    assert "8304" not in repr(cmd) and "GET PROCESSING OPTIONS" in repr(cmd)
    with pytest.raises(CardReadError):
        a.CommandApdu(0, a.INS_SELECT, 4, 0, bytes(300))
