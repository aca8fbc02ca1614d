"""The generated alarm signals: pulse counts and timing per priority, harmonics, volume floor."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from fetal_monitor_station.ui.tones import PATTERNS, RATE_HZ, burst_pcm, burst_wav, effective_volume


def pulses(pcm: np.ndarray) -> list[tuple[float, float]]:
    """(start s, length s) of each stretch where the signal is on (envelope over 5 ms)."""
    env = np.convolve(np.abs(pcm.astype(float)), np.ones(110) / 110, mode="same") > 300
    env = np.concatenate([[False], env, [False]])
    edges = np.flatnonzero(np.diff(env.astype(int)))
    starts, ends = edges[::2], edges[1::2]
    return [(a / RATE_HZ, (b - a) / RATE_HZ) for a, b in zip(starts, ends, strict=False)]


@pytest.mark.parametrize(("priority", "count"), [(3, 10), (2, 3), (1, 2)])
def test_pulses_per_burst(priority: int, count: int) -> None:
    found = pulses(np.frombuffer(burst_pcm(priority, 1.0).tobytes(), dtype=np.int16))
    assert len(found) == count
    for _, length in found:
        assert length == pytest.approx(PATTERNS[priority].pulse_s, abs=0.012)


def test_high_priority_is_3_2_pause_3_2_and_repeats_faster() -> None:
    found = pulses(np.frombuffer(burst_pcm(3, 1.0).tobytes(), dtype=np.int16))
    gaps = [b[0] - (a[0] + a[1]) for a, b in zip(found, found[1:], strict=False)]
    short = min(gaps)
    groups = [i for i, g in enumerate(gaps) if g > short * 1.5]
    assert groups == [2, 4, 7]  # 3 | 2 || 3 | 2
    assert gaps[4] > gaps[2]  # the middle pause is the longest
    assert PATTERNS[3].period_s < PATTERNS[2].period_s < PATTERNS[1].period_s


def test_four_harmonics_in_the_audible_band() -> None:
    p = PATTERNS[2]
    pcm = np.frombuffer(burst_pcm(2, 1.0).tobytes(), dtype=np.int16).astype(float)
    a = int(0.02 * RATE_HZ)
    seg = pcm[a:a + int(0.15 * RATE_HZ)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    freqs = np.fft.rfftfreq(seg.size, 1 / RATE_HZ)
    peak = spectrum.max()
    for k in range(1, 6):
        near = spectrum[np.abs(freqs - k * p.fundamental_hz) < 20]
        assert near.max() > 0.1 * peak, f"harmonic {k} missing"
    assert sum(300 <= k * p.fundamental_hz <= 4000 for k in range(2, 6)) >= 4


def test_volume_floor_high_priority_never_silent() -> None:
    assert effective_volume(3, 0.0) == 0.6 and effective_volume(3, 0.9) == 0.9
    assert effective_volume(2, 0.0) == 0.3 and effective_volume(1, 0.0) == 0.0
    quiet = np.frombuffer(burst_pcm(3, 0.0).tobytes(), dtype=np.int16)
    assert np.abs(quiet).max() > 0.5 * 32767 * 0.6 * 0.8  # asked for silence, still loud
    with pytest.raises(ValueError):
        effective_volume(4, 1.0)


def test_wav_container() -> None:
    with wave.open(io.BytesIO(burst_wav(2, 0.5))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE_HZ)
        assert w.getnframes() == int(round(PATTERNS[2].period_s * RATE_HZ))
