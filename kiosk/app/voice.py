"""Voice prompts with espeak-ng (Mandarin voice `cmn`, English `en`), never blocking the UI:
each prompt replaces the one still speaking. Missing espeak-ng = silent, said once in the log."""

from __future__ import annotations

import logging
import shutil
import subprocess

VOICES = {"zh": "cmn", "en": "en"}
log = logging.getLogger(__name__)


class EspeakVoice:
    def __init__(self, *, executable: str = "espeak-ng", speed_wpm: int = 150) -> None:
        self._exe = shutil.which(executable)
        self._speed = speed_wpm
        self._proc: subprocess.Popen[bytes] | None = None
        if self._exe is None:
            log.warning("voice prompts off: %s is not installed", executable)

    def __call__(self, text: str, lang: str) -> None:
        self.stop()
        if self._exe is None:
            return
        self._proc = subprocess.Popen([self._exe, "-v", VOICES.get(lang, "cmn"), "-s", str(self._speed), text],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
        self._proc = None
