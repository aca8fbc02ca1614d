"""The acquirer interface (pure): ISO 8583 messages (pyiso8583, ASCII spec), TCP framing, X9.19 MAC.

The acquirer simulator (acquirer_simulator/wire.py) implements the other end on its own, from
the interface as documented in docs/hospital-services.md.

- Framing: a 2-byte big-endian length, then the message.
- Messages: 0200 financial request / 0210 answer; 0400 reversal / 0410 answer; 0100 account
  verification (processing code 330000, amount 0: the cardholder's PIN checked, nothing charged) / 0110.
- Field 52 (PIN block) is the PIN pad's block in hex, 16 (3DES) or 32 (SM4) digits, LLVAR.
- Field 63: the terminal MAC, made in the kiosk's PIN pad under the terminal's MAC key (the acquirer
  holds it from the key ceremony, like the PIN key) over the terminal MAC block (docs/hospital-services.md);
  passed through untouched, so the hub cannot change what the terminal signed.
- Field 64 (MAC): ANSI X9.19 retail MAC under the link MAC key (16 bytes), over the message
  encoded without field 64 (pyiso8583 encodes deterministically, so the receiver can rebuild it).
"""

from __future__ import annotations

import copy
import socket
import struct
from typing import Any

import iso8583
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from iso8583.specs import default_ascii

from central_hub.errors import HubError

FINANCIAL_REQUEST, FINANCIAL_ANSWER = "0200", "0210"
REVERSAL_REQUEST, REVERSAL_ANSWER = "0400", "0410"
VERIFY_REQUEST, VERIFY_ANSWER = "0100", "0110"
PURCHASE = "000000"
ACCOUNT_VERIFICATION = "330000"
TERMINAL_MAC_FIELD = "63"
CURRENCY_CNY = "156"
POS_ENTRY_CHIP_WITH_PIN = "051"
APPROVED = "00"
MAC_KEY_BYTES = 16
DES_BLOCK = 8
LENGTH_PREFIX = struct.Struct(">H")
MAX_MESSAGE = 4096

SPEC: dict[str, Any] = copy.deepcopy(default_ascii)
SPEC["52"] = {**SPEC["52"], "len_type": 2, "max_len": 32}

RESPONSE_REASONS = {
    "00": "approved",
    "05": "do not honour",
    "12": "invalid transaction",
    "14": "invalid card number",
    "51": "insufficient funds",
    "54": "expired card",
    "55": "incorrect PIN",
    "75": "PIN tries exceeded",
    "94": "duplicate transmission",
    "96": "system malfunction",
    "A0": "MAC check failed",
}


class Iso8583Error(HubError):
    """A message that does not parse, is too long, or whose MAC is wrong."""


def _des(key: bytes) -> Cipher:  # type: ignore[type-arg]
    return Cipher(TripleDES(key * 3 if len(key) == DES_BLOCK else key), modes.ECB())


def x919_mac(key: bytes, data: bytes) -> bytes:
    """ANSI X9.19 (ISO 9797-1 algorithm 3) with zero padding."""
    if len(key) != MAC_KEY_BYTES:
        raise Iso8583Error("the MAC key must be 16 bytes")
    left, right = key[:DES_BLOCK], key[DES_BLOCK:]
    padded = data + bytes(-len(data) % DES_BLOCK) if data else bytes(DES_BLOCK)
    state = bytes(DES_BLOCK)
    enc_left = _des(left).encryptor()
    for i in range(0, len(padded), DES_BLOCK):
        state = enc_left.update(bytes(a ^ b for a, b in zip(state, padded[i:i + DES_BLOCK], strict=True)))
    dec_right = _des(right).decryptor()
    state = dec_right.update(state) + dec_right.finalize()
    enc = _des(left).encryptor()
    return enc.update(state) + enc.finalize()


def _encode_plain(doc: dict[str, str]) -> bytes:
    try:
        raw, _ = iso8583.encode({k: v for k, v in doc.items() if k in SPEC and k not in ("p", "s", "64")}, SPEC)
    except iso8583.EncodeError as exc:
        raise Iso8583Error(f"cannot encode: {exc.args[0] if exc.args else exc}") from None
    return bytes(raw)


def encode(doc: dict[str, str], mac_key: bytes) -> bytes:
    """Encode with field 64 = X9.19 MAC over the message without it."""
    mac = x919_mac(mac_key, _encode_plain(doc)).hex().upper()
    try:
        raw, _ = iso8583.encode({**{k: v for k, v in doc.items() if k not in ("p", "s")}, "64": mac}, SPEC)
    except iso8583.EncodeError as exc:
        raise Iso8583Error(f"cannot encode: {exc.args[0] if exc.args else exc}") from None
    return bytes(raw)


def decode(raw: bytes, mac_key: bytes) -> dict[str, str]:
    """Decode and check field 64; raises Iso8583Error (reason 'mac' in the text for a bad MAC)."""
    try:
        doc, _ = iso8583.decode(raw, SPEC)
    except iso8583.DecodeError as exc:
        raise Iso8583Error(f"malformed message: {exc.args[0] if exc.args else exc}") from None
    mac = doc.get("64")
    if mac is None:
        raise Iso8583Error("mac: no MAC (field 64)")
    if x919_mac(mac_key, _encode_plain(doc)).hex().upper() != mac.upper():
        raise Iso8583Error("mac: field 64 does not verify")
    return {k: v for k, v in doc.items() if k not in ("p", "s")}


def send_frame(sock: socket.socket, message: bytes) -> None:
    if len(message) > MAX_MESSAGE:
        raise Iso8583Error(f"message of {len(message)} bytes is too long")
    sock.sendall(LENGTH_PREFIX.pack(len(message)) + message)


def recv_frame(sock: socket.socket) -> bytes:
    """One framed message (the socket's timeout applies); raises ConnectionError if the line drops."""
    (length,) = LENGTH_PREFIX.unpack(_recv_exact(sock, LENGTH_PREFIX.size))
    if not 0 < length <= MAX_MESSAGE:
        raise Iso8583Error(f"frame length {length} out of range")
    return _recv_exact(sock, length)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the acquirer closed the line")
        out += chunk
    return bytes(out)


def reason_text(code: str | None) -> str:
    return RESPONSE_REASONS.get(code or "", f"declined (code {code})")
