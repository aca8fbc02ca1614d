"""The firmware's Corometrics decoder on hand-made frames (the shared streams are in
tests/firmware/test_corometrics_shared.py)."""

from mchfw import corometrics as cm


def test_frames(tmp):
    d = cm.Decoder()
    data = (cm.build_frame(cm.RT_HR1, b"140") + cm.build_frame(cm.RT_HR2, b"00") + cm.build_frame(cm.RT_UA, b"128")
            + cm.build_frame(cm.RT_UA, b"35") + cm.build_frame(cm.RT_MODES, b"UT") + cm.build_frame(cm.RT_MARK)
            + cm.build_frame(cm.RT_FM, b"1") + cm.build_frame(cm.RT_PAPER_OUT, b"1")
            + cm.build_frame(cm.RT_ANNOTATION, b"xyz"))
    evs = []
    for i in range(0, len(data), 3):  # any chunking
        evs += d.feed(data[i:i + 3])
    assert evs == [(cm.EV_HR, 1, 140), (cm.EV_HR, 2, None), (cm.EV_UA, None), (cm.EV_UA, 35),
                   (cm.EV_MODES, "U", "T"), (cm.EV_MARK,), (cm.EV_FM, cm.FM_DETECTED), (cm.EV_PAPER, True),
                   (cm.EV_ANNOTATION, cm.RT_ANNOTATION, b"xyz")]
    assert d.stats["frames_ok"] == 9 and d.stats["bytes_in"] == len(data)


def test_bad_input_is_counted_not_raised(tmp):
    d = cm.Decoder()
    assert d.feed(cm.build_frame(cm.RT_HR1, b"999")) == []
    assert d.feed(cm.build_frame(0x70, b"1")) == []
    assert d.feed(b"\x39\x60\x30\xff\x03") == []
    assert d.feed(bytes(200)) == []
    assert d.stats["bad_values"] == 1 and d.stats["unknown_codes"] == 1
    assert d.stats["framing_errors"] >= 2
    assert d.feed(b"garbage" + cm.build_frame(cm.RT_HR1, b"120")) == [(cm.EV_HR, 1, 120)]
