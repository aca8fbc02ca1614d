"""Text-block decoding, GB 11643 check digits, synthetic identities."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from kiosk.errors import CardDataError
from kiosk.idcard.identity import (
    LONG_TERM,
    NATIONS,
    Identity,
    Sex,
    encode_text_block,
    encode_text_fields,
    id_check_char,
    id_number_valid,
    mask_id_number,
    parse_text_block,
)
from kiosk.idcard.photo import PNG_SIGNATURE, PlaceholderPhotoDecoder
from kiosk.idcard.synthetic import synthetic_identity

GB11643_EXAMPLE_FEMALE = "11010519491231002X"  # the standard's own examples
GB11643_EXAMPLE_MALE = "440524188001010014"


def test_standard_examples() -> None:
    assert id_check_char(GB11643_EXAMPLE_FEMALE[:17]) == "X"
    assert id_check_char(GB11643_EXAMPLE_MALE[:17]) == "4"
    assert id_number_valid(GB11643_EXAMPLE_FEMALE) and id_number_valid(GB11643_EXAMPLE_MALE)
    assert not id_number_valid("110105194912310021")
    assert not id_number_valid("11010519491231002")
    assert not id_number_valid("1101051949123100２X")  # full-width digit


def _fields(**over: str) -> bytes:
    values = dict(name="测试甲", sex="2", nation="01", birth="19491231", address="样例省样例市模拟路1号",
                  number=GB11643_EXAMPLE_FEMALE, authority="样例市公安局", valid_from="20200101", valid_to=LONG_TERM)
    values.update(over)
    return encode_text_fields(values["name"], values["sex"], values["nation"], values["birth"], values["address"],
                              values["number"], values["authority"], values["valid_from"], values["valid_to"])


def test_parse_text_block_fields_and_long_term() -> None:
    block = _fields()
    assert len(block) == 256
    assert block[30:32] == "2".encode("utf-16-le")
    identity = parse_text_block(block)
    assert identity.name == "测试甲" and identity.sex is Sex.FEMALE and identity.sex.label_zh == "女"
    assert identity.nation == "汉" and identity.birth_date == dt.date(1949, 12, 31)
    assert identity.valid_to is None and identity.long_term
    assert identity.is_valid_on(dt.date(2090, 1, 1))
    assert encode_text_block(identity) == block


def test_current_nation_names() -> None:
    assert NATIONS["36"] == "毛南" and NATIONS["46"] == "德昂" and NATIONS["56"] == "基诺"
    assert len(NATIONS) == 58


@pytest.mark.parametrize(("over", "message"), [
    ({"number": "110105194912310021"}, "check digit"),
    ({"birth": "19500101"}, "birth date"),
    ({"sex": "1"}, "sex digit"),
    ({"nation": "57"}, "nation"),
    ({"sex": "5"}, "sex code"),
    ({"valid_to": "2019XX01"}, "validity end"),
    ({"name": ""}, "empty name"),
])
def test_invalid_blocks_are_rejected(over: dict[str, str], message: str) -> None:
    with pytest.raises(CardDataError, match=message):
        parse_text_block(_fields(**over))


def test_wrong_block_size() -> None:
    with pytest.raises(CardDataError):
        parse_text_block(bytes(255))


def test_repr_masks_personal_data() -> None:
    identity = parse_text_block(_fields())
    assert "测试甲" not in repr(identity) and GB11643_EXAMPLE_FEMALE not in repr(identity)
    assert mask_id_number(GB11643_EXAMPLE_FEMALE) == "110105********002X"


def test_synthetic_identities_are_valid_and_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(200):
        identity = synthetic_identity(rng, sex=rng.choice([Sex.MALE, Sex.FEMALE]), long_term=rng.random() < 0.2)
        assert id_number_valid(identity.id_number)
        assert parse_text_block(encode_text_block(identity)) == identity


def test_identity_is_frozen() -> None:
    identity = synthetic_identity(random.Random(1))
    with pytest.raises(AttributeError):
        identity.name = "x"  # type: ignore[misc]
    assert isinstance(identity, Identity)


def test_placeholder_photo_decoder_returns_png() -> None:
    png = PlaceholderPhotoDecoder().decode(b"WLT" + bytes(1021))
    assert png.startswith(PNG_SIGNATURE) and png.endswith(b"IEND\xaeB`\x82")
