"""Interop driver: <cases.json> <out.json>.

For each case {key, base_iv, device_id, topic, counter, schema, sealed_at_ms, envelope}:
open mch_link's envelope, re-seal its plaintext with the same parameters (bytes must match),
and seal a body of the firmware's own making for mch_link to open.
"""

import binascii
import json
import sys

from mchfw import cbor, envelope

H = binascii.unhexlify
with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for c in cases:
    key, iv = H(c["key"]), H(c["base_iv"])
    r: dict = {}
    try:
        hdr, recs = envelope.open_envelope(H(c["envelope"]), key, iv, c["topic"])
        pt = envelope.open_plaintext(H(c["envelope"]), key, iv, c["topic"])[1]
        again = envelope.seal_plaintext(key, iv, c["device_id"], c["topic"], hdr["counter"], hdr["schema"], pt,
                                        hdr["sealed_at_ms"])
        r["reseal"] = binascii.hexlify(again).decode()
        r["ids"] = [x[0] for x in recs]
        r["recs_reencoded"] = binascii.hexlify(envelope.records_plaintext(recs)).decode()
    except envelope.EnvelopeError as exc:
        r["error"] = exc.reason
    own = [(c["counter"] + i, None if i % 2 else c["sealed_at_ms"], {"seq": i, "fhr1_bpm": [120 + i, None], "x": c["schema"]})
           for i in range(3)]
    r["own"] = binascii.hexlify(envelope.seal(key, iv, c["device_id"], c["topic"], c["counter"] ^ 1, c["schema"], own,
                                               c["sealed_at_ms"])).decode()
    r["own_plain"] = binascii.hexlify(cbor.dumps([{"id": a, "t": b, "b": d} for a, b, d in own])).decode()
    out.append(r)
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
print("OK", len(out))
