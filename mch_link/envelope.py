"""The link message: a batch of records of one schema, sealed in a COSE_Encrypt0.

Authenticated: device id (kid), counter (Partial IV), sealing time, schema id and content
type in the protected header; the topic as external AAD, so a message moved to another
topic or device does not open. Plaintext: a CBOR array of records
``{"id": msg_id, "t": made_at_ms | null, "b": body}``.

Counters are per transmission (like DTLS record numbers): a record resent after a lost
acknowledgement is sealed again under a fresh counter, so the hub can tell a device's resend
(new counter, known record id: a duplicate) from a replay (a counter already used).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import cbor2

from mch_link import cose, strictcbor
from mch_link.errors import EnvelopeError
from mch_link.keys import DirectionKey
from mch_link.strictcbor import CBORDecodeError

CONTENT_TYPE = "application/cbor"
RECORD_OVERHEAD = 32  # CBOR of {"id": .., "t": .., "b": ..} around a body: keys, a 9-byte id, a 9-byte time
ARRAY_OVERHEAD = 5  # the array header of up to 2**32 records
MAX_BODY_BYTES = cose.MAX_PLAINTEXT - RECORD_OVERHEAD - ARRAY_OVERHEAD  # a record alone must fit an envelope


@dataclass(frozen=True)
class Record:
    msg_id: int  # unique per device and never reused (the outbox row id)
    body: dict[str, Any]
    made_at_ms: int | None = None  # device clock when the record was made; None if unknown

    def to_cbor_obj(self) -> dict[str, Any]:
        return {"id": self.msg_id, "t": self.made_at_ms, "b": self.body}


@dataclass(frozen=True)
class Header:
    """What can be read before decryption (all of it authenticated once opened)."""

    kid: str
    counter: int
    schema: str
    sealed_at_ms: int | None
    epoch: bytes  # the sender's boot epoch (empty for a sender without one)
    protected_bytes: bytes = field(repr=False)
    protected: dict[int, Any] = field(repr=False)
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    device_id: str
    counter: int
    schema: str
    sealed_at_ms: int | None
    records: tuple[Record, ...]
    digest: str  # sha256 of the envelope bytes, to recognise a byte-identical redelivery
    epoch: bytes = b""  # the sender's boot epoch: counters are fresh per (device, epoch)
    previous_key: bool = False  # opened under the key a rotation replaced (its grace window)


def seal(key: DirectionKey, device_id: str, topic: str, counter: int, schema: str,
         records: list[Record], sealed_at_ms: int | None = None, epoch: bytes = b"") -> bytes:
    """`epoch`: the sender's random boot epoch (cose.EPOCH_LEN bytes), bound into the nonce."""
    protected: dict[int, Any] = {
        cose.H_ALG: cose.ALG_AES_CCM_16_64_128,
        cose.H_CONTENT_TYPE: CONTENT_TYPE,
        cose.H_KID: device_id.encode(),
        cose.H_PARTIAL_IV: cose.encode_partial_iv(counter, epoch),
        cose.H_SCHEMA: schema,
    }
    if sealed_at_ms is not None:
        protected[cose.H_SEALED_AT_MS] = sealed_at_ms
    plaintext = cbor2.dumps([r.to_cbor_obj() for r in records])
    return cose.encrypt0(key.key, key.base_iv, protected, plaintext, topic.encode())


def peek(data: bytes) -> Header:
    """Parse the envelope far enough to pick the key. Raises EnvelopeError('malformed', ...)."""
    protected_bytes, protected, ciphertext = cose.decode_encrypt0(data)
    kid = protected.get(cose.H_KID)
    schema = protected.get(cose.H_SCHEMA)
    sealed_at = protected.get(cose.H_SEALED_AT_MS)
    if not isinstance(kid, bytes):
        raise EnvelopeError("malformed", "missing kid")
    try:
        kid_text = kid.decode()
    except UnicodeDecodeError:
        raise EnvelopeError("malformed", "kid is not UTF-8") from None
    if not isinstance(schema, str):
        raise EnvelopeError("malformed", "missing schema id")
    if protected.get(cose.H_CONTENT_TYPE) != CONTENT_TYPE:
        raise EnvelopeError("malformed", "unexpected content type")
    if sealed_at is not None and (not isinstance(sealed_at, int) or isinstance(sealed_at, bool)):
        raise EnvelopeError("malformed", "sealing time is not an integer")
    epoch, counter = cose.decode_partial_iv(protected[cose.H_PARTIAL_IV])
    return Header(kid_text, counter, schema, sealed_at, epoch, protected_bytes, protected, ciphertext)


def open_header(header: Header, key: DirectionKey, topic: str, envelope: bytes, now_ms: int | None = None) -> Message:
    """Open under `key`, or under the key it replaced while the rotation's grace window lasts
    (an envelope sealed before the rotation and still in flight). Raises EnvelopeError."""
    try:
        plaintext = cose.decrypt0(key.key, key.base_iv, header.protected_bytes, header.protected,
                                  header.ciphertext, topic.encode())
        previous_key = False
    except EnvelopeError as exc:
        previous = key.previous_at(now_ms)
        if previous is None or exc.reason != "auth-failed":
            raise
        plaintext = cose.decrypt0(previous.key, previous.base_iv, header.protected_bytes, header.protected,
                                  header.ciphertext, topic.encode())
        previous_key = True
    return Message(header.kid, header.counter, header.schema, header.sealed_at_ms,
                   _decode_records(plaintext), hashlib.sha256(envelope).hexdigest(), header.epoch, previous_key)


def open_envelope(data: bytes, key: DirectionKey, topic: str, now_ms: int | None = None) -> Message:
    return open_header(peek(data), key, topic, data, now_ms)


def _decode_records(plaintext: bytes) -> tuple[Record, ...]:
    try:  # authentic, but a hostile enrolled device seals what it likes: the same strict decoder
        items = strictcbor.loads(plaintext)
    except CBORDecodeError as exc:
        raise EnvelopeError("malformed", f"plaintext: {exc}") from None
    if not isinstance(items, list) or not items:
        raise EnvelopeError("malformed", "plaintext must be a non-empty array of records")
    out = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"id", "t", "b"}:
            raise EnvelopeError("malformed", "record must be a map with id, t, b")
        msg_id, made_at, body = item["id"], item["t"], item["b"]
        if not isinstance(msg_id, int) or isinstance(msg_id, bool) or msg_id < 0:
            raise EnvelopeError("malformed", "record id must be a non-negative integer")
        if made_at is not None and (not isinstance(made_at, int) or isinstance(made_at, bool)):
            raise EnvelopeError("malformed", "record time must be an integer or null")
        if not isinstance(body, dict):
            raise EnvelopeError("malformed", "record body must be a map")
        out.append(Record(msg_id, body, made_at))
    return tuple(out)
