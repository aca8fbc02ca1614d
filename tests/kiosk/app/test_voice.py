"""EspeakVoice with Debian's real espeak-ng, heard through WAV files (no sound card on the test
machines): Chinese in the Mandarin voice, English in the English one, never blocking the caller, a
new prompt stopping the one still speaking; without espeak-ng, silence and one log line."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import time
import wave
from pathlib import Path

import pytest

from kiosk.app.voice import EspeakVoice

pytestmark = pytest.mark.integration

ZH = "请将身份证放在感应区"
EN = "Please place your ID card on the reader"
LONG_ZH = "请将身份证放在感应区，或点击下方按钮输入就诊卡号。" * 100  # about a second of espeak-ng's CPU
SPEED_WPM = 150
DONE_S = 20.0
RETURNS_WITHIN_S = 0.5


@pytest.fixture
def espeak() -> str:
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is installed by the set-up (scripts/apt/kiosk-app.txt)"
    return exe


def _reference(exe: str, voice: str, text: str, path: Path) -> bytes:
    """What espeak-ng itself makes of `text` in `voice`, run by hand."""
    subprocess.run([exe, "-v", voice, "-s", str(SPEED_WPM), "-w", str(path), text], check=True, timeout=DONE_S,
                   capture_output=True)
    return path.read_bytes()


def _spoken(voice: EspeakVoice) -> None:
    proc = voice.process
    assert proc is not None
    assert proc.wait(DONE_S) == 0


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_chinese_in_the_mandarin_voice_and_english_in_the_english_one(espeak: str, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    voice = EspeakVoice(speed_wpm=SPEED_WPM, record_dir=prompts)
    voice(ZH, "zh")
    _spoken(voice)
    voice(EN, "en")
    _spoken(voice)
    zh_wav, en_wav = sorted(prompts.iterdir())
    assert (zh_wav.name, en_wav.name) == ("prompt-0001-zh.wav", "prompt-0002-en.wav")
    assert _seconds(zh_wav) > 1.0 and _seconds(en_wav) > 1.0  # audio, not an empty header
    refs = tmp_path / "refs"
    refs.mkdir()
    assert zh_wav.read_bytes() == _reference(espeak, "cmn", ZH, refs / "zh-cmn.wav")
    assert en_wav.read_bytes() == _reference(espeak, "en", EN, refs / "en-en.wav")
    # the comparison can tell the voices apart: the same Chinese text in the English voice differs
    assert zh_wav.read_bytes() != _reference(espeak, "en", ZH, refs / "zh-en.wav")


def test_a_prompt_never_blocks_and_a_new_one_stops_the_last(espeak: str, tmp_path: Path) -> None:
    voice = EspeakVoice(speed_wpm=SPEED_WPM, record_dir=tmp_path)
    started = time.monotonic()
    voice(LONG_ZH, "zh")
    returned_s = time.monotonic() - started
    first = voice.process
    assert first is not None and first.poll() is None, "the long prompt is still being spoken"
    assert returned_s < RETURNS_WITHIN_S, returned_s
    voice(EN, "en")
    assert first.wait(DONE_S) == -signal.SIGTERM  # the first prompt was cut off, not left to finish
    _spoken(voice)
    assert (tmp_path / "prompt-0002-en.wav").read_bytes() == _reference(espeak, "en", EN, tmp_path / "ref.wav")
    voice(LONG_ZH, "zh")
    third = voice.process
    assert third is not None
    voice.stop()  # the visit ended: silence now
    assert third.wait(DONE_S) == -signal.SIGTERM and voice.process is None


def test_without_espeak_ng_prompts_are_silent_and_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a kiosk image without espeak-ng
    with caplog.at_level(logging.WARNING, logger="kiosk.app.voice"):
        voice = EspeakVoice(record_dir=tmp_path)
        for lang in ("zh", "en", "zh"):
            voice(ZH, lang)
    assert voice.process is None
    assert list(tmp_path.glob("*.wav")) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "kiosk.app.voice"]
    assert lines == ["voice prompts off: espeak-ng is not installed"]
