"""Decoder tests on byte streams built from the protocol description (ctg.md section 6)."""

from __future__ import annotations

import pytest

from fetal_monitor_station.errors import ConfigError
from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.monitor import make_decoder, protocols
from fetal_monitor_station.monitor.events import (
    Annotation,
    EventMark,
    FetalMovement,
    FetalMovementState,
    HeartRate,
    HrRole,
    Modes,
    RecorderStatus,
    UterineActivity,
)

NINE, ID, ETX = b"9", b"0", b"\x03"


def frame(rt: int, data: bytes) -> bytes:
    """Written out from the manual's layout, independently of the module's builders."""
    return NINE + bytes((rt,)) + ID + data + ETX


def test_constants_match_the_manual_table() -> None:
    assert (c.RT_HR1, c.RT_UA, c.RT_MODES, c.RT_ANNOTATION, c.RT_MARK, c.RT_HR2, c.RT_FM, c.RT_PAPER_OUT) == \
        (0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67)
    assert (c.ETX, c.MONITOR_TYPE_170, c.MONITOR_ID) == (0x03, 0x39, 0x30)


def test_builders_produce_the_documented_bytes() -> None:
    assert c.hr_frame(1, 140) == b"9`0140\x03"
    assert c.hr_frame(2, None) == b"9e000\x03"
    assert c.ua_frame(None) == b"9a0128\x03"
    assert c.ua_frame(7) == b"9a007\x03"
    assert c.mark_frame() == b"9d0\x03"
    assert c.fm_frame(FetalMovementState.DISABLED) == b"9f04\x03"
    assert c.paper_frame(True) == b"9g01\x03"
    assert c.modes_frame("M", "T") == b"9b0MT\x03"


def test_every_message_type() -> None:
    d = c.CorometricsDecoder()
    stream = (frame(0x60, b"140") + frame(0x65, b"98") + frame(0x61, b"25") + frame(0x62, b"MT")
              + frame(0x64, b"") + frame(0x66, b"1") + frame(0x67, b"0") + frame(0x63, b"NIBP 120/80"))
    events = d.feed(stream)
    assert events == [HeartRate(1, 140), HeartRate(2, 98), UterineActivity(25), Modes("M", "T"), EventMark(),
                      FetalMovement(FetalMovementState.DETECTED), RecorderStatus(False),
                      Annotation(0x63, b"NIBP 120/80")]
    assert d.stats.frames_ok == 8 and d.stats.errors == 0
    assert d.hr_roles() == (HrRole.FETAL, HrRole.MATERNAL)
    assert d.paper_out is False


def test_penlift_values_are_no_signal() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(frame(0x60, b"00") + frame(0x65, b"000") + frame(0x61, b"128")) == \
        [HeartRate(1, None), HeartRate(2, None), UterineActivity(None)]
    assert d.stats.bad_values == 0


@pytest.mark.parametrize("code, state", [(b"0", FetalMovementState.NONE), (b"1", FetalMovementState.DETECTED),
                                         (b"2", FetalMovementState.FEATURE_ABSENT),
                                         (b"4", FetalMovementState.DISABLED)])
def test_fetal_movement_codes(code: bytes, state: FetalMovementState) -> None:
    assert c.CorometricsDecoder().feed(frame(0x66, code)) == [FetalMovement(state)]


def test_any_chunking_gives_the_same_events() -> None:
    stream = b"".join(c.hr_frame(1, 120 + i) + c.ua_frame(i) for i in range(20))
    whole = c.CorometricsDecoder().feed(stream)
    for size in (1, 2, 3, 5, 7, 64):
        d = c.CorometricsDecoder()
        got = []
        for i in range(0, len(stream), size):
            got += d.feed(stream[i:i + size])
        assert got == whole
    assert len(whole) == 40


def test_unknown_response_type_is_counted_and_skipped() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(frame(0x70, b"12") + c.hr_frame(1, 150)) == [HeartRate(1, 150)]
    assert d.stats.unknown_codes == 1 and d.stats.frames_ok == 1


@pytest.mark.parametrize("bad", [
    frame(0x60, b"1"),  # one digit
    frame(0x60, b"1400"),  # four digits
    frame(0x60, b"1a0"),  # not digits
    frame(0x60, b"255"),  # outside the heart-rate range
    frame(0x61, b"200"),  # UA out of range (not the 128 penlift)
    frame(0x64, b"x"),  # mark carries no data
    frame(0x66, b"3"),  # movement code not in the table
    frame(0x66, b""),
    frame(0x67, b"2"),
    frame(0x62, b"M"),  # modes are two characters
])
def test_bad_values_are_counted(bad: bytes) -> None:
    d = c.CorometricsDecoder()
    assert d.feed(bad + c.hr_frame(1, 130)) == [HeartRate(1, 130)]
    assert d.stats.bad_values == 1


@pytest.mark.parametrize("bad", [
    b"8`0140\x03",  # wrong monitor type
    b"9`1140\x03",  # wrong monitor id
    b"9`\x03",  # truncated header
    b"\x03",  # lone ETX
    b"9`0\xe140\x03",  # parity-corrupted (non-ASCII) byte
])
def test_framing_errors_are_counted(bad: bytes) -> None:
    d = c.CorometricsDecoder()
    assert d.feed(bad + c.hr_frame(1, 130)) == [HeartRate(1, 130)]
    assert d.stats.framing_errors == 1


def test_lost_etx_loses_one_message_and_resynchronises() -> None:
    d = c.CorometricsDecoder()
    merged = c.hr_frame(1, 140)[:-1] + c.hr_frame(2, 150)  # ETX of the first message lost
    assert d.feed(merged + c.ua_frame(10)) == [HeartRate(2, 150), UterineActivity(10)]
    assert d.stats.framing_errors == 1


def test_noise_before_a_message_is_dropped() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(b"\x00\xffgarbage" + c.hr_frame(1, 141)) == [HeartRate(1, 141)]
    assert d.stats.framing_errors == 1 and d.stats.bytes_discarded == 9


def test_truncated_message_waits_for_the_rest() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(b"9`01") == []
    assert d.feed(b"45\x03") == [HeartRate(1, 145)]
    assert d.stats.errors == 0


def test_endless_bytes_without_etx_are_bounded() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(b"7" * 10_000) == []
    assert d.stats.framing_errors == 1 and d.stats.bytes_discarded == 10_000
    assert d.feed(c.hr_frame(1, 120)) == [HeartRate(1, 120)]


def test_unknown_hr_mode_hides_channel_two_until_known() -> None:
    d = c.CorometricsDecoder()
    assert d.hr_roles() == c.DEFAULT_HR_ROLES == (HrRole.FETAL, HrRole.INOP)
    d.feed(c.modes_frame("U", "T"))
    assert d.hr_roles() == (HrRole.FETAL, HrRole.FETAL)
    d.feed(c.modes_frame("Z", "T"))
    assert d.hr_roles() == c.DEFAULT_HR_ROLES


def test_request_and_cancel_round_trip() -> None:
    req = c.build_request([c.RT_HR1, c.RT_UA])
    assert req == b"9" + b"0" + b"`a" + b"\x03"
    assert c.parse_request(req[:-1]) == [c.RT_HR1, c.RT_UA]
    assert c.build_cancel() == b"90\x03"
    assert c.parse_request(c.build_cancel()[:-1]) == []
    assert c.parse_request(b"x") is None
    with pytest.raises(ValueError):
        c.build_request([])


def test_transmit_receive_decoder_says_hello() -> None:
    assert make_decoder("corometrics-115").hello() == b""
    hello = make_decoder("corometrics-115", {"mode": "transmit_receive"}).hello()
    assert hello.startswith(b"90") and hello.endswith(b"\x03")


def test_registry_and_config_options() -> None:
    assert "corometrics-115" in protocols()
    d = make_decoder("corometrics-115", {"hr_mode_roles": {"X": ["maternal", "fetal"]}})
    d.feed(c.modes_frame("X", "T"))
    assert d.hr_roles() == (HrRole.MATERNAL, HrRole.FETAL)
    bads: list[dict[str, object]] = [{"mode": "push"}, {"speed": 1}, {"hr_mode_roles": {"X": ["fetal"]}},
                                     {"hr_mode_roles": {"X": ["fetal", "alien"]}}, {"hr_mode_roles": []}]
    for bad in bads:
        with pytest.raises(ConfigError):
            make_decoder("corometrics-115", bad)
    with pytest.raises(ConfigError, match="unknown monitor protocol"):
        make_decoder("philips-series-50")


def test_annotation_text_that_looks_like_a_header_is_not_split() -> None:
    d = c.CorometricsDecoder()
    text = b"NIBP 9a012 note"
    assert d.feed(frame(0x63, text)) == [Annotation(0x63, text)]
    assert d.stats.errors == 0


def test_garbage_with_a_lost_etx_in_front_of_an_unknown_code_counts_one_error() -> None:
    d = c.CorometricsDecoder()
    assert d.feed(b"xx" + frame(0x70, b"1")) == []
    assert d.stats.errors == 1
