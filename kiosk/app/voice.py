"""Voice prompts with espeak-ng (Mandarin voice `cmn`, English `en`), never blocking the UI:
each prompt replaces the one still speaking. Missing espeak-ng = silent, said once in the log.

`record_dir` writes each prompt to a WAV file there instead of the sound card (espeak-ng's `-w`):
how a prompt set is recorded for a kiosk without espeak-ng, and how the tests hear it."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

VOICES = {"zh": "cmn", "en": "en"}
DEFAULT_VOICE = VOICES["zh"]
log = logging.getLogger(__name__)


class EspeakVoice:
    def __init__(self, *, executable: str = "espeak-ng", speed_wpm: int = 150,
                 record_dir: Path | None = None) -> None:
        self._exe = shutil.which(executable)
        self._speed = speed_wpm
        self._record_dir = record_dir
        self._count = 0
        self._proc: subprocess.Popen[bytes] | None = None
        if self._exe is None:
            log.warning("voice prompts off: %s is not installed", executable)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The espeak-ng process of the latest prompt (None when silent)."""
        return self._proc

    def command(self, text: str, lang: str) -> list[str]:
        """The espeak-ng command line for one prompt (the sound card, or the next WAV file)."""
        args = [self._exe or "espeak-ng", "-v", VOICES.get(lang, DEFAULT_VOICE), "-s", str(self._speed)]
        if self._record_dir is not None:
            self._count += 1
            args += ["-w", str(self._record_dir / f"prompt-{self._count:04d}-{lang}.wav")]
        return [*args, "--", text]

    def __call__(self, text: str, lang: str) -> None:
        self.stop()
        if self._exe is None:
            return
        try:
            self._proc = subprocess.Popen(self.command(text, lang), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:  # removed since start, or cannot run: a prompt is never worth a crash
            log.warning("voice prompt not spoken: %s", exc.strerror)

    def stop(self) -> None:
        """Silence the prompt still speaking (without waiting for it: the UI thread calls this)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
        self._proc = None
