"""The vpcd wire protocol, with a test server standing in for pcscd's vpcd driver."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from kiosk.bankcard.card_profiles import ATR_T1, PROFILES
from kiosk.bankcard.errors import BankCardError
from kiosk.bankcard.virtual_card import VirtualPbocCard
from kiosk.bankcard.vpcd import VPCD_CTRL_ATR, VPCD_CTRL_ON, VpcdCardLink, encode_message

TIMEOUT_S = 5.0


@pytest.fixture
def vpcd_server() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(TIMEOUT_S)
    yield server
    server.close()


def recv_message(conn: socket.socket) -> bytes:
    (length,) = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))
    return conn.recv(length, socket.MSG_WAITALL) if length else b""


def test_message_framing() -> None:
    assert encode_message(b"\x04") == bytes.fromhex("000104")
    assert encode_message(b"") == bytes.fromhex("0000")
    with pytest.raises(BankCardError):
        encode_message(bytes(0x10000))


def test_atr_apdus_and_reinsertion_after_the_reader_goes_away(vpcd_server: socket.socket) -> None:
    card = VirtualPbocCard(PROFILES["pse"])
    link = VpcdCardLink(card, port=vpcd_server.getsockname()[1]).insert()
    try:
        conn, _ = vpcd_server.accept()
        with conn:
            conn.settimeout(TIMEOUT_S)
            conn.sendall(encode_message(bytes([VPCD_CTRL_ON])))
            conn.sendall(encode_message(bytes([VPCD_CTRL_ATR])))
            assert recv_message(conn) == ATR_T1
            conn.sendall(encode_message(bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"))
            assert recv_message(conn)[-2:] == bytes.fromhex("9000")
        conn, _ = vpcd_server.accept()  # "pcscd restarted": the card comes back
        with conn:
            conn.settimeout(TIMEOUT_S)
            conn.sendall(encode_message(bytes([VPCD_CTRL_ATR])))
            assert recv_message(conn) == ATR_T1
        assert link.connections == 2
    finally:
        link.remove()


def test_mute_card_answers_an_empty_atr_and_leaves(vpcd_server: socket.socket) -> None:
    link = VpcdCardLink(VirtualPbocCard(PROFILES["mute"]), port=vpcd_server.getsockname()[1]).insert()
    try:
        conn, _ = vpcd_server.accept()
        with conn:
            conn.settimeout(TIMEOUT_S)
            conn.sendall(encode_message(bytes([VPCD_CTRL_ATR])))
            assert recv_message(conn) == b""
            assert conn.recv(1) == b""  # the card hung up
    finally:
        link.remove()
