"""No command sequence gets a key or a clear PIN out of the pad; nothing leaks into logs or files."""

from __future__ import annotations

import logging
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.epp import crypto as c
from kiosk.epp import protocol as pr
from kiosk.epp.driver import KeyComponent, PinPad
from kiosk.epp.framing import Frame, KeyEvent, StreamDecoder, decode_frame
from kiosk.epp.simulator import EppDevice, EppHandle
from kiosk.errors import DeviceStatusError

from .conftest import AUTH_KEY

MASTER = bytes.fromhex("3C" * 8 + "5A" * 8)
PIN_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
MAC_KEY = bytes.fromhex("A5" * 16)
PIN = "739418"
PAN = "6222020200112233445"
SECRETS_HEX = [k.hex().upper() for k in (MASTER, PIN_KEY, MAC_KEY, AUTH_KEY)]


def _loaded_device() -> EppDevice:
    dev = EppDevice(AUTH_KEY)
    challenge = pr.unhex(decode_frame(dev.handle(Frame(pr.Cmd.GET_CHALLENGE, b""))).data)
    resp = c.encrypt_ecb(c.Algorithm.TDES, AUTH_KEY, challenge)
    assert decode_frame(dev.handle(Frame(pr.Cmd.AUTHENTICATE, pr.hexa(resp)))).code == pr.RTN_OK
    dev.handle(Frame(pr.Cmd.LOAD_MASTER_KEY, b"01D0" + bytes((0x32,)) + pr.hexa(MASTER)))
    for slot, usage, key in ((b"02", pr.Usage.PIN, PIN_KEY), (b"03", pr.Usage.MAC, MAC_KEY)):
        blob = pr.hexa(c.encrypt_ecb(c.Algorithm.TDES, MASTER, key)) + pr.hexa(c.kcv(c.Algorithm.TDES, key))
        answer = decode_frame(dev.handle(Frame(pr.Cmd.LOAD_WORK_KEY, b"01" + slot + bytes((usage, 0x32)) + blob)))
        assert answer.code == pr.RTN_OK
    dev.handle(Frame(pr.Cmd.START_PIN_ENTRY, b"0406030"))
    for key in PIN:
        assert dev.press(key) is KeyEvent.DIGIT  # the event never says which digit
    return dev


def _leaks(answer: bytes) -> list[str]:
    text = answer.hex().upper() + answer.decode("latin-1").upper()
    found = [s for s in SECRETS_HEX if s in text or s[:16] in text]
    if PIN in answer.decode("latin-1"):
        found.append("PIN")
    return found


commands = st.sampled_from([int(cmd) for cmd in pr.Cmd] + list(range(0x00, 0x100, 7)))
datas = st.one_of(
    st.binary(max_size=60),
    st.builds(lambda slot, rest: slot + rest, st.sampled_from([b"01", b"02", b"03", b"00", b"FF"]),
              st.binary(max_size=40)),
    st.sampled_from([b"02" + bytes((0x20,)) + b"987654321098", b"02" + bytes((0x23,)) + b"987654321098",
                     b"03" + bytes((0x39,)) + b"00", b"02" + bytes((0x39,)) + b"00", b"0200000000"]),
)


@pytest.mark.fuzz
@settings(max_examples=200, deadline=1000)
@given(st.lists(st.tuples(commands, datas), min_size=1, max_size=12), st.booleans())
def test_no_command_sequence_reveals_a_key_or_the_pin(calls: list[tuple[int, bytes]], enter: bool) -> None:
    dev = _loaded_device()
    if enter:
        dev.press("ENTER")
    for cmd, data in calls:
        answer = dev.handle(Frame(cmd, data))
        assert _leaks(answer) == []
        decode_frame(answer)
    assert PIN not in repr(dev) and all(s not in repr(dev) for s in SECRETS_HEX)


def test_pin_block_does_not_decrypt_with_anything_the_host_gets() -> None:
    dev = _loaded_device()
    dev.press("ENTER")
    answer = decode_frame(dev.handle(Frame(pr.Cmd.GET_PIN_BLOCK, b"02" + bytes((0x20,)) + b"987654321098")))
    assert answer.code == pr.RTN_OK and _leaks(answer.data) == [] and len(pr.unhex(answer.data)) == 8


def test_pin_key_cannot_be_reloaded_as_a_data_key() -> None:
    dev = _loaded_device()
    blob = pr.hexa(c.encrypt_ecb(c.Algorithm.TDES, MASTER, PIN_KEY)) + pr.hexa(c.kcv(c.Algorithm.TDES, PIN_KEY))
    answer = decode_frame(dev.handle(Frame(pr.Cmd.LOAD_WORK_KEY, b"0105" + bytes((pr.Usage.DATA, 0x32)) + blob)))
    assert answer.code == pr.Rtn.ILLEGAL_DATA  # else ENCRYPT under the PIN key would be a PIN-block oracle


def _load(dev: EppDevice, slot: bytes, usage: pr.Usage, key: bytes) -> int:
    blob = pr.hexa(c.encrypt_ecb(c.Algorithm.TDES, MASTER, key)) + pr.hexa(c.kcv(c.Algorithm.TDES, key))
    return decode_frame(dev.handle(Frame(pr.Cmd.LOAD_WORK_KEY, b"01" + slot + bytes((usage, 0x32)) + blob))).code


def test_pin_key_cannot_be_reloaded_as_a_data_key_into_its_own_slot() -> None:
    """The check once skipped the PIN key's own slot: the same enciphered key loaded into slot 02
    as DATA replaced the PIN key by a DATA key of the same value, and ENCRYPT under it computed
    (and so checked guesses of) PIN blocks."""
    dev = _loaded_device()
    assert _load(dev, b"02", pr.Usage.DATA, PIN_KEY) == pr.Rtn.ILLEGAL_DATA
    answer = decode_frame(dev.handle(Frame(pr.Cmd.ENCRYPT, b"02" + pr.hexa(b"\x00" * 8))))
    assert answer.code != pr.RTN_OK


def test_a_pin_key_keeps_its_usage_after_its_slot_is_overwritten() -> None:
    dev = _loaded_device()
    assert _load(dev, b"02", pr.Usage.PIN, bytes.fromhex("11" * 8 + "22" * 8)) == pr.RTN_OK  # detour
    assert _load(dev, b"02", pr.Usage.DATA, PIN_KEY) == pr.Rtn.ILLEGAL_DATA
    assert _load(dev, b"05", pr.Usage.DATA, PIN_KEY) == pr.Rtn.ILLEGAL_DATA
    assert _load(dev, b"02", pr.Usage.PIN, PIN_KEY) == pr.RTN_OK  # the same usage again is fine


def test_key_events_on_the_wire_are_digit_agnostic() -> None:
    wire = []
    for digit in "0123456789":
        dev = EppDevice(AUTH_KEY)
        dev.handle(Frame(pr.Cmd.START_PIN_ENTRY, b"0406030"))
        wire.append(dev.press(digit))
    assert set(wire) == {KeyEvent.DIGIT}
    assert StreamDecoder().feed(bytes(wire)) == [KeyEvent.DIGIT] * 10


@pytest.mark.integration
def test_pin_and_pin_block_never_logged_or_written(epp_sim: EppHandle, open_pty_port, tmp_path: pathlib.Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    file_log = logging.FileHandler(tmp_path / "kiosk.log")
    file_log.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(file_log)
    try:
        pad = PinPad(open_pty_port(f"spy://{epp_sim.port_url}?file={tmp_path / 'spy.txt'}", "epp"))
        pad.authenticate(lambda ch: c.encrypt_ecb(c.Algorithm.TDES, AUTH_KEY, ch))
        pad.load_master_key(1, c.Algorithm.TDES, [KeyComponent(MASTER, c.kcv(c.Algorithm.TDES, MASTER))],
                            c.kcv(c.Algorithm.TDES, MASTER, 3))
        pad.load_work_key(1, 2, pr.Usage.PIN, c.encrypt_ecb(c.Algorithm.TDES, MASTER, PIN_KEY),
                          c.kcv(c.Algorithm.TDES, PIN_KEY, 3))
        pad.start_pin_entry(4, 6, 30)
        epp_sim.press(*PIN, "ENTER")
        while pad.next_key_event(1.0) is not KeyEvent.ENTER:
            pass
        block = pad.pin_block(2, PAN)
        with pytest.raises(DeviceStatusError):
            pad.pin_block(2, PAN)
    finally:
        logging.getLogger().removeHandler(file_log)
        file_log.close()
    spy = (tmp_path / "spy.txt").read_text()
    assert PIN not in spy.replace(" ", "")  # the wire itself (spy:// hexdump) carries no PIN
    assert PIN not in caplog.text and block.hex() not in caplog.text.lower()
    for path in tmp_path.rglob("*"):
        if path.name == "spy.txt":
            continue
        content = path.read_bytes()
        assert PIN.encode() not in content and block not in content and block.hex().encode() not in content.lower()
    assert "RX" in spy and "TX" in spy  # sanity: the spy file did record the traffic
