"""Every alarm the engine can raise has a name on screen in both languages (never the raw kind)."""

from __future__ import annotations

from fetal_monitor_station.alarms import model
from fetal_monitor_station.ui.i18n import STRINGS


def test_every_alarm_kind_has_a_chinese_and_an_english_label() -> None:
    kinds = {v for k, v in vars(model).items() if k.isupper() and isinstance(v, str)
             and not k.startswith(("CHANGE_", "PRIORITY_", "KIND_"))}
    assert {"bradycardia", "fhr_high_limit", "signal_loss"} <= kinds  # the scan finds the kinds
    missing = [k for k in sorted(kinds) if k not in STRINGS or not all(STRINGS[k])]
    assert not missing, missing
    for kind in kinds:
        zh, en = STRINGS[kind]
        assert zh != kind and en != kind


def test_the_classification_label_reads_in_the_screen_language() -> None:
    from fetal_monitor_station.ui.i18n import Texts
    from fetal_monitor_station.ui.overview import classification_text

    label = "FIGO pathological / NICHD II"  # as fetal_monitor_station.station builds it
    assert classification_text(label, Texts("zh")) == "FIGO 病理型 / NICHD II类"
    assert classification_text(label, Texts("en")) == label
    assert classification_text("", Texts("zh")) == ""
