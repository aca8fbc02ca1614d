"""Driving the dashboard in Debian's headless Chromium (Playwright, no browser download).

- `web_process(...)` starts `mch-hub web` as a subprocess (ephemeral port) and returns its URL.
- `chromium()` launches /usr/bin/chromium headless; `shot(page, name)` writes
  build/screenshots/dashboard/<name>.png; `missing_glyphs(page)` lists the characters of the
  page that render as the .notdef box in the page's own font stack.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

from tests.support.hub import hub_site
from tests.support.processes import terminate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots" / "dashboard"
SERVING = re.compile(r"mch-hub web: serving (http\S+)")
START_S = 30.0

# Draw each character and the .notdef of a code point no font maps (plane-16 private use), compare pixels.
_GLYPH_CHECK = """(chars) => {
  const canvas = document.createElement('canvas'); canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.font = '40px ' + getComputedStyle(document.body).fontFamily;
  const draw = (ch) => { ctx.clearRect(0, 0, 64, 64); ctx.fillText(ch, 8, 48);
                         return ctx.getImageData(0, 0, 64, 64).data.join(','); };
  const notdef = draw('\\u{10FFFD}');
  return {sane: draw('A') !== notdef && draw('胎') !== notdef,
          missing: chars.filter((ch) => draw(ch) === notdef)};
}"""


class WebProcess:
    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            found = SERVING.search(self.log())
            if found:
                self.url = found.group(1).rstrip("/")
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"mch-hub web exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"mch-hub web did not start within {START_S} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        return terminate(self.proc, 10.0)


def web_process(site_dir: Path, db_url: str, log_path: Path, *extra: str) -> WebProcess:
    """Given a whole site, the dashboard runs on the view of its --hub-id (default hub)."""
    site_dir = hub_site(site_dir, extra[extra.index("--hub-id") + 1] if "--hub-id" in extra else "hub")
    argv = [sys.executable, "-m", "central_hub.cli", "web", "--site", str(site_dir), "--db", db_url,
            "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING", *extra]
    return WebProcess(argv, log_path)


def add_user(db_url: str, username: str, role: str, password: str) -> None:
    done = subprocess.run([sys.executable, "-m", "central_hub.cli", "user", "add", "--db", db_url, username,
                           "--role", role, "--password-stdin"], input=password + "\n", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def missing_glyphs(page: Page) -> list[str]:
    text = page.evaluate("() => document.body.innerText")
    chars = sorted({c for c in text if not c.isspace()})
    result = page.evaluate(_GLYPH_CHECK, chars)
    assert result["sane"], "the glyph check cannot tell a real glyph from the .notdef box"
    return list(result["missing"])
