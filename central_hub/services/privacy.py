"""Personal data at rest in the services: sealed JSON values and keyed blind indexes.

A blind index is HMAC-SHA256 over the normalised value under a key derived (HKDF) from the
hub's first data key, so every worker computes the same index, and the table never holds an
ID number (or anything that can be brute-forced without the key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from central_hub.datakey import DataCipher

BLIND_INDEX_INFO = b"mch-hub services blind index/1"


class Privacy:
    def __init__(self, cipher: DataCipher) -> None:
        self._cipher = cipher
        first = cipher.keys[min(cipher.keys)]
        self._index_key = HKDF(hashes.SHA256(), 32, salt=None, info=BLIND_INDEX_INFO).derive(first)

    def blind_index(self, kind: str, value: str) -> str:
        normal = value.strip().upper()
        return hmac.new(self._index_key, f"{kind}\0{normal}".encode(), hashlib.sha256).hexdigest()

    def seal(self, aad: str, value: Any) -> tuple[int, bytes, bytes]:
        return self._cipher.seal(aad.encode(), json.dumps(value, ensure_ascii=False, sort_keys=True).encode())

    def open(self, aad: str, key_id: int, nonce: bytes, sealed: bytes) -> Any:
        return json.loads(self._cipher.open(int(key_id), bytes(nonce), bytes(sealed), aad.encode()))
