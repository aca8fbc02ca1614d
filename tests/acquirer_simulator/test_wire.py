"""The simulator's own codec against the published X9.19 vector and against the hub's codec."""

from __future__ import annotations

import pytest

from acquirer_simulator import wire
from central_hub.services import iso8583

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
DOC = {"t": "0200", "2": "6217000000000011", "3": "000000", "4": "000000003500", "11": "000042", "41": "KSK00001",
       "52": "0412AC89ABCDEF670412AC89ABCDEF67"}


@pytest.mark.parametrize("mac", [wire.retail_mac, iso8583.x919_mac])
def test_retail_mac_published_vector(mac) -> None:  # noqa: ANN001
    # ANSI X9.19 example: "Now is the time for all " under 0123456789ABCDEF FEDCBA9876543210
    assert mac(KEY, b"Now is the time for all ").hex().upper() == "A1C72E74EA3FA9B6"


def test_both_ends_read_each_other() -> None:
    assert wire.unpack(iso8583.encode(DOC, KEY), KEY) == DOC
    assert iso8583.decode(wire.pack(DOC, KEY), KEY) == {**DOC, "64": iso8583.decode(wire.pack(DOC, KEY), KEY)["64"]}


def test_a_wrong_mac_is_named() -> None:
    raw = bytearray(wire.pack(DOC, KEY))
    raw[-1] = ord("0") if raw[-1] != ord("0") else ord("1")
    with pytest.raises(wire.WireError) as exc:
        wire.unpack(bytes(raw), KEY)
    assert exc.value.mac
    with pytest.raises(iso8583.Iso8583Error, match="mac"):
        iso8583.decode(bytes(raw), KEY)
