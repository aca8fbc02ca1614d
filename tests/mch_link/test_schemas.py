"""Schema validation: known ids, clear errors that never echo the value (bodies hold personal data)."""

from __future__ import annotations

import pytest

from mch_link import schemas
from mch_link.errors import SchemaError


def test_every_committed_schema_loads() -> None:
    from importlib import resources

    names = [p.name for p in (resources.files("mch_link") / "schemas").iterdir() if p.name.endswith(".json")]
    assert len(names) >= 8
    for name in names:
        stem, _, version = name.removesuffix(".json").rpartition("-")
        assert schemas.known(f"{stem}/{version}"), name


def test_error_names_the_place_and_rule_but_not_the_value() -> None:
    secret = "王秀英-病历号-123456"  # stands for a name someone put where it does not belong
    with pytest.raises(SchemaError) as err:
        schemas.validate("sim/1", {"seq": 1, "fhr_bpm": [], "toco": [], "note": secret * 20})
    assert "/note" in str(err.value) and "maxLength" in str(err.value)
    assert secret not in str(err.value)


@pytest.mark.parametrize("bad", ["ctg", "ctg/0", "../etc/1", "CTG/1", "nope/1"])
def test_unknown_or_malformed_ids_are_refused(bad: str) -> None:
    assert not schemas.known(bad)
    with pytest.raises(SchemaError):
        schemas.validate(bad, {})
