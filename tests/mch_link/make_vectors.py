"""Regenerate tests/mch_link/vectors/envelope.json (deterministic: fixed keys, counters, bodies).

Run: python -m tests.mch_link.make_vectors. The file is committed; the firmware and any other
implementation must produce and open exactly these bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cbor2

from mch_link.envelope import Record, seal
from mch_link.keys import DirectionKey

VECTORS = Path(__file__).parent / "vectors" / "envelope.json"


def _key(label: str) -> DirectionKey:
    d = hashlib.sha256(label.encode()).digest()
    return DirectionKey(d[:16], hashlib.sha256(d).digest()[:13])


CASES = [
    # name, device, kind, counter, schema, sealed_at_ms, records
    ("minimal", "bridge-ctg-001", "ctg", 0, "sim/1", None, [(1, None, {"seq": 1, "fhr_bpm": [140], "toco": [10]})]),
    ("with-time", "kiosk-001", "rec", 1, "sim/1", 1764072000123,
     [(7, 1764072000000, {"seq": 7, "fhr_bpm": [140, 141, 139, 140], "toco": [12, 13, 14, 15], "note": "孕妇自助建档"})]),
    ("batch", "station-01", "ctg", 65535, "sim/1", 1764072001000,
     [(n, 1764072000000 + 250 * n, {"seq": n, "fhr_bpm": [120 + n % 20] * 4, "toco": [n % 100] * 4}) for n in range(100, 105)]),
    ("big-counter", "station-01", "alarm", 2**40 - 1, "sim/1", 0, [(2**32, -5, {"seq": 0, "fhr_bpm": [], "toco": []})]),
    ("ack-downlink", "bridge-ctg-001", "ack", 256, "ack/1", 1764072002000, [(0, None, {"ok": [1, 2, 3], "held": [4]})]),
    # with the sender's boot epoch: Partial IV = epoch (8 bytes) || counter (5 bytes)
    ("epoch", "bridge-ctg-001", "ctg", 0, "sim/1", 1764072003000, [(1, None, {"seq": 1, "fhr_bpm": [140], "toco": [10]})]),
    ("epoch-big-counter", "kiosk-001", "rec", 2**40 - 1, "sim/1", None,
     [(9, 1764072000000, {"seq": 9, "fhr_bpm": [150], "toco": [20], "note": "epoch"})]),
    ("epoch-downlink", "station-01", "ack", 3, "ack/1", 1764072004000, [(0, None, {"ok": [5], "held": []})]),
]
EPOCHS = {"epoch": "0123456789abcdef", "epoch-big-counter": "fedcba9876543210", "epoch-downlink": "00000000000000ff"}


def build() -> dict:
    out = []
    for name, device, kind, counter, schema, sealed_at, recs in CASES:
        key = _key(f"{name}/{device}")
        topic = f"mch/v1/{device}/{kind}"
        records = [Record(i, b, t) for i, t, b in recs]
        epoch = bytes.fromhex(EPOCHS.get(name, ""))
        envelope = seal(key, device, topic, counter, schema, records, sealed_at, epoch)
        out.append({
            "name": name,
            "key": key.key.hex(),
            "base_iv": key.base_iv.hex(),
            "device_id": device,
            "topic": topic,
            "counter": counter,
            "epoch": epoch.hex(),
            "schema": schema,
            "sealed_at_ms": sealed_at,
            "records": [{"id": r.msg_id, "t": r.made_at_ms, "b": r.body} for r in records],
            "plaintext": cbor2.dumps([r.to_cbor_obj() for r in records]).hex(),
            "envelope": envelope.hex(),
        })
    return {
        "format": "mch-link-envelope-vectors/1",
        "alg": "COSE_Encrypt0 AES-CCM-16-64-128, nonce = base_iv XOR left-padded Partial IV, external_aad = topic;"
               " Partial IV = counter (minimal) or epoch (8 bytes) || counter (5 bytes)",
        "vectors": out,
    }


if __name__ == "__main__":
    VECTORS.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS}")
