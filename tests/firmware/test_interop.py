"""Interoperability: envelopes sealed by mch_link open on MicroPython and re-seal to the same
bytes, and envelopes sealed on MicroPython open with mch_link, on random messages."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cbor2
import pytest

from mch_link.envelope import Record, open_envelope, seal
from mch_link.keys import DirectionKey
from tests.firmware.conftest import run_cpython, run_micropython

N_CASES = 60
KINDS = ("rec", "ctg", "alarm", "state", "ack", "cmd")
WORDS = ("seq", "fhr_bpm", "toco", "note", "ok", "held", "孕妇", "b", "event", "x" * 40)


def _value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(9 if depth < 2 else 6)
    if choice == 0:
        return rng.randint(-2**40, 2**40)
    if choice == 1:
        return rng.choice([None, True, False])
    if choice == 2:
        return "".join(rng.choice(WORDS) for _ in range(rng.randrange(3)))
    if choice == 3:
        return rng.randbytes(rng.randrange(20))
    if choice == 4:
        return rng.randint(0, 255)
    if choice == 5:
        return rng.choice([0.5, -1.25, 1e10, 140.0])
    if choice in (6, 7):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.choice(WORDS): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _cases(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for n in range(N_CASES):
        key = DirectionKey(rng.randbytes(16), rng.randbytes(13))
        device = f"dev-{rng.randrange(1000):03d}"
        topic = f"mch/v1/{device}/{rng.choice(KINDS)}"
        counter = rng.choice([0, 1, 255, 256, 65535, 2**32 + 7, 2**40 - 1, rng.randrange(2**40)])
        sealed = rng.choice([None, 0, 1764072000123, rng.randrange(2**41)])
        records = [Record(rng.randrange(2**33), {rng.choice(WORDS): _value(rng) for _ in range(rng.randrange(5))},
                          rng.choice([None, rng.randrange(2**41)])) for _ in range(1 + rng.randrange(4))]
        schema = rng.choice(["ctg/1", "sim/1", "ack/1", "state/1"])
        env = seal(key, device, topic, counter, schema, records, sealed)
        out.append({"key": key.key.hex(), "base_iv": key.base_iv.hex(), "device_id": device, "topic": topic,
                    "counter": counter, "schema": schema, "sealed_at_ms": sealed, "envelope": env.hex(),
                    "n": n, "records": records, "dk": key})
    return out


def _run(interpreter: str, tmp: Path, cases: list[dict]) -> list[dict]:
    src = tmp / "cases.json"
    dst = tmp / "out.json"
    src.write_text(json.dumps([{k: v for k, v in c.items() if k not in ("records", "dk")} for c in cases]))
    run = run_micropython if interpreter == "micropython" else run_cpython
    proc = run(["interop_cli.py", str(src), str(dst)], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(dst.read_text())


@pytest.mark.integration
@pytest.mark.parametrize("interpreter", ["micropython", "cpython"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_messages_both_ways(interpreter: str, seed: int, tmp_path: Path) -> None:
    cases = _cases(seed)
    results = _run(interpreter, tmp_path, cases)
    for c, r in zip(cases, results, strict=True):
        assert "error" not in r, (c["n"], r)
        # mch_link -> firmware: opens, and sealing the same plaintext again gives the same bytes
        assert r["reseal"] == c["envelope"]
        assert r["ids"] == [rec.msg_id for rec in c["records"]]
        assert bytes.fromhex(r["recs_reencoded"]) == cbor2.dumps([rec.to_cbor_obj() for rec in c["records"]])
        # firmware -> mch_link: opens with the same content
        msg = open_envelope(bytes.fromhex(r["own"]), c["dk"], c["topic"])
        assert msg.device_id == c["device_id"] and msg.counter == c["counter"] ^ 1 and msg.schema == c["schema"]
        assert [rec.to_cbor_obj() for rec in msg.records] == cbor2.loads(bytes.fromhex(r["own_plain"]))
