"""The link envelope (docs/link-contract.md): COSE_Encrypt0 with AES-CCM-16-64-128.

Byte for byte the same as mch_link.envelope.seal (held by tests/mch_link/vectors/envelope.json):
protected header as a canonical CBOR map {1: 10, 3: "application/cbor", 4: kid, 6: Partial IV,
-65537: sealed_at_ms (when known), -65538: schema}, empty unprotected map, nonce = Base IV XOR
left-padded Partial IV, external AAD = topic, plaintext = CBOR array of {"id", "t", "b"}.
Partial IV = the boot epoch (8 random bytes) || the counter (5 bytes); a counter alone (1..5
bytes, minimal) is still read, from a sender without an epoch.
"""

from mchfw import cbor, ccm

COSE_ENCRYPT0_TAG = 16
ALG_AES_CCM_16_64_128 = 10
CONTENT_TYPE = "application/cbor"
H_ALG = 1
H_CONTENT_TYPE = 3
H_KID = 4
H_PARTIAL_IV = 6
H_SEALED_AT_MS = -65537
H_SCHEMA = -65538
MAX_PARTIAL_IV_LEN = 5
MAX_COUNTER = (1 << (8 * MAX_PARTIAL_IV_LEN)) - 1
EPOCH_LEN = 8  # random per boot; Partial IV = epoch || counter (5 bytes): no nonce twice, whatever the flash holds
EPOCH_PARTIAL_IV_LEN = EPOCH_LEN + MAX_PARTIAL_IV_LEN
ENC_CONTEXT = "Encrypt0"


class EnvelopeError(ValueError):
    """An envelope could not be built or opened; `reason` matches mch_link's codes."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason


def partial_iv(counter: int, epoch: bytes = b"") -> bytes:
    if counter < 0 or counter > MAX_COUNTER:
        raise EnvelopeError("bad-counter", "counter out of range")
    if epoch:
        if len(epoch) != EPOCH_LEN:
            raise EnvelopeError("bad-counter", "epoch must be 8 bytes")
        return bytes(epoch) + counter.to_bytes(MAX_PARTIAL_IV_LEN, "big")
    n = 1
    while counter >> (8 * n):
        n += 1
    return counter.to_bytes(n, "big")


def nonce_for(base_iv: bytes, piv: bytes) -> bytes:
    if len(base_iv) != ccm.NONCE_LEN:
        raise EnvelopeError("bad-key", "base IV must be 13 bytes")
    return ccm._xor(base_iv, bytes(ccm.NONCE_LEN - len(piv)) + piv)


def protected_bytes(device_id: str, counter: int, schema: str, sealed_at_ms, epoch: bytes = b"") -> bytes:
    """The canonical protected header; keys in RFC 7049 canonical order, built by hand."""
    out = bytearray()
    cbor._head(out, cbor.MT_MAP, 6 if sealed_at_ms is not None else 5)
    for label, value in ((H_ALG, ALG_AES_CCM_16_64_128), (H_CONTENT_TYPE, CONTENT_TYPE),
                         (H_KID, device_id.encode()), (H_PARTIAL_IV, partial_iv(counter, epoch)),
                         (H_SEALED_AT_MS, sealed_at_ms), (H_SCHEMA, schema)):
        if value is None:
            continue
        cbor._encode(out, label, 0)
        cbor._encode(out, value, 0)
    return bytes(out)


def records_plaintext(records: list) -> bytes:
    """records: [(msg_id, made_at_ms or None, body), ...] -> CBOR array of {"id", "t", "b"}."""
    out = bytearray()
    cbor._head(out, cbor.MT_ARRAY, len(records))
    for msg_id, made_at_ms, body in records:
        cbor._head(out, cbor.MT_MAP, 3)
        cbor._encode(out, "id", 0)
        cbor._encode(out, msg_id, 0)
        cbor._encode(out, "t", 0)
        cbor._encode(out, made_at_ms, 0)
        cbor._encode(out, "b", 0)
        cbor._encode(out, body, 0)
    return bytes(out)


def _enc_structure(prot: bytes, topic: str) -> bytes:
    return cbor.dumps([ENC_CONTEXT, prot, topic.encode()])


def seal_plaintext(key: bytes, base_iv: bytes, device_id: str, topic: str, counter: int, schema: str,
                   plaintext: bytes, sealed_at_ms=None, epoch: bytes = b"") -> bytes:
    prot = protected_bytes(device_id, counter, schema, sealed_at_ms, epoch)
    try:
        ct = ccm.encrypt(key, nonce_for(base_iv, partial_iv(counter, epoch)), plaintext, _enc_structure(prot, topic))
    except ccm.CCMError as exc:
        raise EnvelopeError("bad-key", str(exc)) from None
    out = bytearray()
    cbor._head(out, cbor.MT_TAG, COSE_ENCRYPT0_TAG)
    cbor._head(out, cbor.MT_ARRAY, 3)
    cbor._encode(out, prot, 0)
    cbor._head(out, cbor.MT_MAP, 0)
    cbor._encode(out, ct, 0)
    return bytes(out)


def seal(key: bytes, base_iv: bytes, device_id: str, topic: str, counter: int, schema: str,
         records: list, sealed_at_ms=None, epoch: bytes = b"") -> bytes:
    return seal_plaintext(key, base_iv, device_id, topic, counter, schema, records_plaintext(records),
                          sealed_at_ms, epoch)


def peek(data: bytes) -> dict:
    """Header fields without decrypting: kid, counter, schema, sealed_at_ms (+ internals)."""
    try:
        obj = cbor.loads(data)
    except cbor.CBORError as exc:
        raise EnvelopeError("malformed", f"not CBOR: {exc}") from None
    if not isinstance(obj, cbor.Tag) or obj.tag != COSE_ENCRYPT0_TAG:
        raise EnvelopeError("malformed", "not a tagged COSE_Encrypt0")
    v = obj.value
    if not isinstance(v, list) or len(v) != 3:
        raise EnvelopeError("malformed", "COSE_Encrypt0 must be a 3-element array")
    prot, unprot, ct = v
    if not isinstance(prot, bytes) or not isinstance(unprot, dict) or not isinstance(ct, bytes):
        raise EnvelopeError("malformed", "bad COSE_Encrypt0 member types")
    if unprot:
        raise EnvelopeError("malformed", "unprotected header must be empty")
    try:
        h = cbor.loads(prot)
    except cbor.CBORError:
        raise EnvelopeError("malformed", "protected header is not CBOR") from None
    if not isinstance(h, dict):
        raise EnvelopeError("malformed", "protected header is not a map")
    if h.get(H_ALG) != ALG_AES_CCM_16_64_128:
        raise EnvelopeError("unsupported-alg", f"alg {h.get(H_ALG)!r}")
    piv = h.get(H_PARTIAL_IV)
    if not isinstance(piv, bytes) or not (1 <= len(piv) <= MAX_PARTIAL_IV_LEN or len(piv) == EPOCH_PARTIAL_IV_LEN):
        raise EnvelopeError("malformed", "missing or bad Partial IV")
    epoch, counter_bytes = (piv[:EPOCH_LEN], piv[EPOCH_LEN:]) if len(piv) == EPOCH_PARTIAL_IV_LEN else (b"", piv)
    kid = h.get(H_KID)
    schema = h.get(H_SCHEMA)
    sealed = h.get(H_SEALED_AT_MS)
    if not isinstance(kid, bytes) or not isinstance(schema, str):
        raise EnvelopeError("malformed", "missing kid or schema")
    if h.get(H_CONTENT_TYPE) != CONTENT_TYPE:
        raise EnvelopeError("malformed", "unexpected content type")
    if sealed is not None and (not isinstance(sealed, int) or isinstance(sealed, bool)):
        raise EnvelopeError("malformed", "sealing time is not an integer")
    if len(ct) < ccm.TAG_LEN:
        raise EnvelopeError("malformed", "ciphertext shorter than the tag")
    try:
        kid_text = kid.decode()
    except UnicodeError:
        raise EnvelopeError("malformed", "kid is not UTF-8") from None
    return {"kid": kid_text, "counter": int.from_bytes(counter_bytes, "big"), "epoch": epoch, "schema": schema,
            "sealed_at_ms": sealed, "_prot": prot, "_piv": piv, "_ct": ct}


def open_plaintext(data: bytes, key: bytes, base_iv: bytes, topic: str) -> tuple:
    hdr = peek(data)
    try:
        pt = ccm.decrypt(key, nonce_for(base_iv, hdr["_piv"]), hdr["_ct"], _enc_structure(hdr["_prot"], topic))
    except ccm.CCMError:
        raise EnvelopeError("auth-failed", "tag does not verify (forged, tampered, wrong key or topic)") from None
    return hdr, pt


def open_envelope(data: bytes, key: bytes, base_iv: bytes, topic: str) -> tuple:
    """(header dict, [(msg_id, made_at_ms, body), ...]); EnvelopeError on anything wrong."""
    hdr, pt = open_plaintext(data, key, base_iv, topic)
    try:
        items = cbor.loads(pt)
    except cbor.CBORError:
        raise EnvelopeError("malformed", "plaintext is not CBOR") from None
    if not isinstance(items, list) or not items:
        raise EnvelopeError("malformed", "plaintext must be a non-empty array of records")
    out = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 3 or not ("id" in item and "t" in item and "b" in item):
            raise EnvelopeError("malformed", "record must be a map with id, t, b")
        msg_id, made_at, body = item["id"], item["t"], item["b"]
        if not isinstance(msg_id, int) or isinstance(msg_id, bool) or msg_id < 0:
            raise EnvelopeError("malformed", "record id must be a non-negative integer")
        if made_at is not None and (not isinstance(made_at, int) or isinstance(made_at, bool)):
            raise EnvelopeError("malformed", "record time must be an integer or null")
        if not isinstance(body, dict):
            raise EnvelopeError("malformed", "record body must be a map")
        out.append((msg_id, made_at, body))
    return hdr, out
