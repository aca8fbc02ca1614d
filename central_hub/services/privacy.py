"""Personal data at rest in the services: sealed JSON values and keyed blind indexes.

A blind index is HMAC-SHA256 over the normalised value under a key derived (HKDF) from the
hub's first data key, so every worker computes the same index, and the table never holds an
ID number (or anything that can be brute-forced without the key).

The county's blind index of an ID number (central_hub/feed/blindindex.py, under the county
matching key) is computed here too, when a patient enters the index: the number is never kept,
so the feed cannot compute it later (docs/feed.md, "The ID number").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from central_hub.datakey import DataCipher
from central_hub.feed import blindindex

BLIND_INDEX_INFO = b"mch-hub services blind index/1"
log = logging.getLogger(__name__)


class Privacy:
    def __init__(self, cipher: DataCipher, county: blindindex.BlindIndex | None = None) -> None:
        self._cipher = cipher
        self._county = county
        first = cipher.keys[min(cipher.keys)]
        self._index_key = HKDF(hashes.SHA256(), 32, salt=None, info=BLIND_INDEX_INFO).derive(first)

    def blind_index(self, kind: str, value: str) -> str:
        normal = value.strip().upper()
        return hmac.new(self._index_key, f"{kind}\0{normal}".encode(), hashlib.sha256).hexdigest()

    def county_index(self, id_number: str) -> str | None:
        """The county's blind index of an ID number, or None while the hub has no county matching key."""
        return None if self._county is None else self._county.of(id_number)

    def seal(self, aad: str, value: Any) -> tuple[int, bytes, bytes]:
        return self._cipher.seal(aad.encode(), json.dumps(value, ensure_ascii=False, sort_keys=True).encode())

    def open(self, aad: str, key_id: int, nonce: bytes, sealed: bytes) -> Any:
        return json.loads(self._cipher.open(int(key_id), bytes(nonce), bytes(sealed), aad.encode()))


def county_key(state_dir: Path) -> blindindex.BlindIndex | None:
    """The county matching key of the hub's state directory, or None (logged) when there is none yet:
    patients registered meanwhile get their county index at their next identification by ID card."""
    if not (Path(state_dir) / blindindex.KEY_FILE).exists():
        log.warning("no county matching key in %s: patients registered now reach the county without"
                    " the ID number's blind index until they are next identified by ID card", state_dir)
        return None
    return blindindex.load(Path(state_dir))  # a bad key (mode, length) is a HubConfigError: refuse to start
