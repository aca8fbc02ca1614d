"""The acquirer's side of the interface in docs/hospital-services.md, written from that document
and independent of the hub's code (a shared codec would hide a bug both ends had):
2-byte big-endian length framing; pyiso8583's ASCII spec with field 52 as LLVAR of up to 32
hex digits; field 64 = ANSI X9.19 MAC over the message encoded without field 64 (the hub link's
key); field 63 = the terminal MAC made in the kiosk's PIN pad under the terminal's own MAC key over
the terminal MAC block (`terminal_mab`)."""

from __future__ import annotations

import copy
import socket
import struct
from typing import Any

import iso8583
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from iso8583.specs import default_ascii

FINANCIAL_REQUEST, FINANCIAL_ANSWER = "0200", "0210"
REVERSAL_REQUEST, REVERSAL_ANSWER = "0400", "0410"
VERIFY_REQUEST, VERIFY_ANSWER = "0100", "0110"
PURCHASE, ACCOUNT_VERIFICATION = "000000", "330000"
TERMINAL_MAC_FIELD = "63"
MAB_PREFIX = "MCH1"
APPROVED = "00"
MAC_FIELD = "64"
FRAME = struct.Struct(">H")
MAX_MESSAGE = 4096

SPEC: dict[str, Any] = copy.deepcopy(default_ascii)
SPEC["52"] = {**SPEC["52"], "len_type": 2, "max_len": 32}


class WireError(ValueError):
    """Unparseable message, or (when `mac` is True) one whose MAC does not verify."""

    def __init__(self, message: str, mac: bool = False) -> None:
        super().__init__(message)
        self.mac = mac


def _single_des(key: bytes) -> Cipher:  # type: ignore[type-arg]
    return Cipher(TripleDES(key * 3), modes.ECB())


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3, zero padding: DES-CBC under K1, then D(K2), E(K1) on the last block."""
    k1, k2 = key[:8], key[8:16]
    data = data + bytes(-len(data) % 8) if data else bytes(8)
    chain = bytes(8)
    for i in range(0, len(data), 8):
        block = bytes(a ^ b for a, b in zip(chain, data[i:i + 8], strict=True))
        chain = _single_des(k1).encryptor().update(block)
    chain = _single_des(k2).decryptor().update(chain)
    return _single_des(k1).encryptor().update(chain)


def terminal_mab(doc: dict[str, str]) -> bytes:
    """The bytes the terminal MACs, as the interface document defines them: "MCH1", processing code,
    amount (12), PAN, "=", expiry YYMM, PIN block (hex, capitals), terminal id; ASCII."""
    return (MAB_PREFIX + doc.get("3", "") + doc.get("4", "") + doc.get("2", "") + "=" + doc.get("14", "")
            + doc.get("52", "").upper() + doc.get("41", "")).encode("ascii")


def _fields(doc: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in doc.items() if k not in ("p", "s", MAC_FIELD)}


def pack(doc: dict[str, str], key: bytes) -> bytes:
    body, _ = iso8583.encode(_fields(doc), SPEC)
    mac = retail_mac(key, bytes(body)).hex().upper()
    raw, _ = iso8583.encode({**_fields(doc), MAC_FIELD: mac}, SPEC)
    return bytes(raw)


def unpack(raw: bytes, key: bytes | None) -> dict[str, str]:
    """Decode; with `key`, verify field 64 (WireError with mac=True if it is missing or wrong)."""
    try:
        doc, _ = iso8583.decode(raw, SPEC)
    except iso8583.DecodeError as exc:
        raise WireError(f"malformed: {exc}") from None
    if key is not None:
        body, _ = iso8583.encode(_fields(doc), SPEC)
        if doc.get(MAC_FIELD, "").upper() != retail_mac(key, bytes(body)).hex().upper():
            raise WireError("field 64 missing or wrong", mac=True)
    return _fields(doc)


def send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(FRAME.pack(len(message)) + message)


def receive(sock: socket.socket) -> bytes:
    (length,) = FRAME.unpack(_exactly(sock, FRAME.size))
    if not 0 < length <= MAX_MESSAGE:
        raise WireError(f"frame length {length}")
    return _exactly(sock, length)


def _exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("peer closed the line")
        out += chunk
    return bytes(out)
