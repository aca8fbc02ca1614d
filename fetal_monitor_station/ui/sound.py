"""Play the alarm signal of the highest sounding priority (Kivy audio), looping until it changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fetal_monitor_station.ui.tones import PATTERNS, burst_wav, effective_volume

log = logging.getLogger(__name__)


class AlarmSound:
    def __init__(self, folder: Path, volume: float = 0.8) -> None:
        from kivy.core.audio import SoundLoader

        folder.mkdir(parents=True, exist_ok=True)
        self.volume = volume
        self._sounds: dict[int, Any] = {}
        for priority in PATTERNS:
            path = folder / f"alarm-priority-{priority}.wav"
            path.write_bytes(burst_wav(priority, 1.0))  # loudness set at play time, floor applied
            sound = SoundLoader.load(str(path))
            if sound is None or not sound.length:  # no provider, or no audio device opened
                log.error("no audio output for alarm sounds (%s): alarms are visual only", path)
            else:
                sound.loop = True
                self._sounds[priority] = sound
        self.priority = 0

    @property
    def available(self) -> bool:
        return len(self._sounds) == len(PATTERNS)

    def set_priority(self, priority: int) -> None:
        if priority == self.priority:
            return
        old = self._sounds.get(self.priority)
        if old is not None:
            old.stop()
        self.priority = priority
        new = self._sounds.get(priority)
        if new is not None:
            new.volume = effective_volume(priority, self.volume)
            new.play()
