"""The ID number as the county sees it: a keyed blind index, never the number.

Choice (docs/feed.md): HMAC-SHA256 under a *county matching key* that the county issues to every
hospital of the county, over ``"<CV02.01.101 document type>|<number, upper case>"``. The county
can match one woman across hospitals (same number -> same index everywhere) and, holding the key,
look up a number it is given; anyone without the key learns nothing from the index, and an ID
number's small space cannot be searched without it (unlike a plain hash). The key lives in the
hub's state directory (``county-match.key``, 0600), apart from the data key and the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from central_hub.errors import HubConfigError
from central_hub.feed.codes import ID_CARD_TYPE

KEY_FILE = "county-match.key"
KEY_BYTES = 32


@dataclass(frozen=True)
class BlindIndex:
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise HubConfigError(f"county matching key: want {KEY_BYTES} bytes, got {len(self.key)}")

    def of(self, id_number: str, document_type: str = ID_CARD_TYPE) -> str:
        message = f"{document_type}|{id_number.strip().upper()}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def load(state_dir: Path) -> BlindIndex:
    """Read ``<state_dir>/county-match.key`` (64 hex digits, mode 0600)."""
    path = Path(state_dir) / KEY_FILE
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text().strip()
    except OSError as exc:
        raise HubConfigError(f"county matching key {path}: {exc.strerror} (install the key the county issued,"
                             " or `mch-hub feed init-key` for a test county)") from None
    if mode & 0o077:
        raise HubConfigError(f"county matching key {path} has mode {mode:o}: must be 600")
    try:
        return BlindIndex(bytes.fromhex(text))
    except ValueError:
        raise HubConfigError(f"county matching key {path}: not {KEY_BYTES * 2} hex digits") from None


def create(state_dir: Path) -> Path:
    """Write a new random key (a test county's; a real one comes from the county). Refuses to overwrite."""
    Path(state_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    path = Path(state_dir) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HubConfigError(f"county matching key {path} exists; not replaced") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path
