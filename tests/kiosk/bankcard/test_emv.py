from __future__ import annotations

from datetime import date, datetime

import pytest

from kiosk.bankcard import apdu as a
from kiosk.bankcard import dol
from kiosk.bankcard.card_data import BankCardData, luhn_valid, mask_pan, parse_track2
from kiosk.bankcard.card_profiles import PROFILES, with_gb11643
from kiosk.bankcard.channel import ReadOnlyChannel
from kiosk.bankcard.emv import UNIONPAY_RID, EmvReader, parse_afl, parse_gpo_response
from kiosk.bankcard.errors import CardReadError, StripeOnlyCardError
from kiosk.bankcard.virtual_card import VirtualPbocCard

NOW = datetime(2026, 11, 25, 10, 30, 0)


def read(profile: str, **kwargs: object) -> tuple[BankCardData, VirtualPbocCard]:
    card = VirtualPbocCard(PROFILES[profile])
    reader = EmvReader(ReadOnlyChannel(card), clock=lambda: NOW, unpredictable=lambda n: bytes(n), **kwargs)
    return reader.read(), card


@pytest.mark.parametrize("profile", ["pse", "ppse-only", "aid-fallback", "t0", "no-id", "expired"])
def test_every_chip_profile_reads_its_account_data(profile: str) -> None:
    data, card = read(profile)
    expected = PROFILES[profile]
    assert data.pan == expected.pan
    assert data.expiry == expected.expiry
    assert data.cardholder_name == "CESHI YONGHU"
    assert data.aid == expected.applications[0].hex().upper()
    assert data.cardholder_id_number == expected.id_number
    assert data.cardholder_id_type == expected.id_type
    assert card.atc == 1  # GPO only: no GENERATE AC


def test_selection_paths_differ_per_profile() -> None:
    _, pse = read("pse")
    _, ppse = read("ppse-only")
    _, fallback = read("aid-fallback")
    assert pse.instructions_seen[:2] == [(a.CLA_ISO, a.INS_SELECT), (a.CLA_ISO, a.INS_READ_RECORD)]
    assert ppse.instructions_seen[:3] == [(a.CLA_ISO, a.INS_SELECT)] * 3  # PSE, PPSE, AID
    assert fallback.instructions_seen.count((a.CLA_ISO, a.INS_SELECT)) > 3


def test_t0_card_is_read_through_get_response_and_wrong_le() -> None:
    _, card = read("t0")
    assert (a.CLA_ISO, a.INS_GET_RESPONSE) in card.instructions_seen
    # a READ RECORD with data is sent twice (Le=00 answered 6Cxx, then the exact Le): directory
    # record 1, application records 1 and 2; directory record 2 is "not found" at once
    assert card.instructions_seen.count((a.CLA_ISO, a.INS_READ_RECORD)) == 2 * 3 + 1


def test_partial_aid_selection_finds_every_occurrence() -> None:
    card = VirtualPbocCard(PROFILES["aid-fallback"])
    apps = EmvReader(ReadOnlyChannel(card), aid_candidates=(UNIONPAY_RID,)).list_applications()
    assert [app.aid.hex().upper() for app in apps] == ["A000000333010101", "A000000333010102"]


def test_chip_without_payment_application_is_refused_clearly() -> None:
    with pytest.raises(StripeOnlyCardError, match="no UnionPay/EMV payment application"):
        read("no-application")


def test_pdol_is_filled_with_terminal_data_by_format() -> None:
    values = dol.terminal_data(NOW, bytes.fromhex("01020304"))
    entries = dol.parse_dol(PROFILES["pse"].pdol)
    data = dol.build_dol_data(entries, values)
    assert len(data) == sum(e.length for e in entries) == 33
    assert data[:4] == dol.TTQ_CONTACT_READ
    assert bytes.fromhex("0156") in data and bytes.fromhex("261125") in data
    assert data.endswith(bytes.fromhex("3101020304"))
    # numeric shortened/padded on the left, binary on the right, unknown tags as zeros
    assert dol.fit(dol.TAG_AMOUNT_AUTHORISED, bytes.fromhex("000000001234"), 4) == bytes.fromhex("00001234")
    assert dol.fit(dol.TAG_TERMINAL_COUNTRY, bytes.fromhex("0156"), 3) == bytes.fromhex("000156")
    assert dol.fit(dol.TAG_TTQ, bytes.fromhex("28000000"), 5) == bytes.fromhex("2800000000")
    assert dol.build_dol_data((dol.DolEntry(0xDF69, 1),), values) == b"\x00"
    assert dol.gpo_command_template(None, values) == bytes.fromhex("8300")


def test_gpo_formats_and_afl_validation() -> None:
    aip, afl, _ = parse_gpo_response(bytes.fromhex("800A7C00" "08010100" "10010201"))
    assert aip == bytes.fromhex("7C00") and [(e.sfi, e.first, e.last) for e in afl] == [(1, 1, 1), (2, 1, 2)]
    for bad in ("08000100", "08020100", "080101", "00010100"):
        with pytest.raises(CardReadError):
            parse_afl(bytes.fromhex(bad))
    with pytest.raises(CardReadError):
        parse_gpo_response(bytes.fromhex("770482027C00"))


def test_card_data_masks_pan_everywhere() -> None:
    data, _ = read("pse")
    assert data.masked_pan == "629999*********2348"
    for text in (repr(data), str(data), f"{data}", repr([data])):
        assert data.pan not in text and data.masked_pan in text
        assert data.cardholder_id_number not in text


def test_cross_check_with_id_card_and_expiry() -> None:
    data, _ = read("pse")
    assert data.matches_id_number(PROFILES["pse"].id_number.lower()) is True
    assert data.matches_id_number(with_gb11643("11010519900307004")) is False
    assert read("no-id")[0].matches_id_number("110105199003070025") is None
    assert data.id_type_name == "resident ID card"
    expired, _ = read("expired")
    assert expired.expired(date(2026, 1, 1)) and not data.expired(date(2026, 1, 1))


def test_luhn_track2_and_mask_helpers() -> None:
    pan = PROFILES["pse"].pan
    assert luhn_valid(pan) and not luhn_valid(pan[:-1] + str((int(pan[-1]) + 1) % 10))
    assert mask_pan("6299990000001234") == "629999******1234"
    assert parse_track2(bytes.fromhex("6299990000000012348D31122200000F")) == (pan, date(2031, 12, 31))
    with pytest.raises(CardReadError):
        BankCardData(pan=pan[:-1] + "0", expiry=date(2030, 1, 1), cardholder_name="", aid="", application_label="")
