"""Synthetic key set for the simulated PIN pad (`mch-kiosk run --simulate`, tests): two custodian
components of a 3DES master key, and the PIN and MAC work keys sent enciphered under it, as a
key-management host would. Never used with a real pad; real pads get keys only by the ceremony."""

from __future__ import annotations

from collections.abc import Sequence

from kiosk.epp import crypto as c
from kiosk.epp import protocol as pr
from kiosk.epp.driver import KeyComponent, PinPad, tdes_responder
from kiosk.epp.simulator import DEMO_AUTH_KEY
from kiosk.flows.pin import PinKeys

MASTER_SLOT = 1
ALGORITHM = c.Algorithm.TDES
COMPONENTS = (bytes.fromhex("1F2E3D4C5B6A79880F1E2D3C4B5A6978"), bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"))
PIN_KEY = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
MAC_KEY = bytes.fromhex("0A1B2C3D4E5F607182930A1B2C3D4E5F")
TERMINAL_MAC_KEY = bytes.fromhex("5E4D3C2B1A0918273645546372819000")  # the acquirer checks payments with it
TERMINAL_MAC_SLOT = 4
KEYS = PinKeys(pin_slot=1, mac_slot=2, terminal_mac_slot=TERMINAL_MAC_SLOT)


def master_key() -> bytes:
    return c.xor_bytes(*COMPONENTS)


def components() -> list[KeyComponent]:
    return [KeyComponent(value, c.kcv(ALGORITHM, value, 3)) for value in COMPONENTS]


def load_demo_keys(pad: PinPad, auth_key: bytes = DEMO_AUTH_KEY) -> PinKeys:
    """Master key from two components, then the PIN, card-token MAC and terminal MAC work keys under it."""
    pad.authenticate(tdes_responder(auth_key))
    try:
        pad.load_master_key(MASTER_SLOT, ALGORITHM, components(), c.kcv(ALGORITHM, master_key(), 3))
        _send_work_keys(pad, ((KEYS.pin_slot, pr.Usage.PIN, PIN_KEY), (KEYS.mac_slot, pr.Usage.MAC, MAC_KEY),
                              (TERMINAL_MAC_SLOT, pr.Usage.MAC, TERMINAL_MAC_KEY)))
    finally:
        pad.logout()
    return KEYS


def load_work_keys(pad: PinPad, keys: Sequence[tuple[int, pr.Usage, bytes]], auth_key: bytes = DEMO_AUTH_KEY) -> None:
    """More work keys (slot, usage, clear key) sent under the demo master already in the pad: e.g. an
    acquirer's own terminal PIN and MAC keys."""
    pad.authenticate(tdes_responder(auth_key))
    try:
        _send_work_keys(pad, keys)
    finally:
        pad.logout()


def _send_work_keys(pad: PinPad, keys: Sequence[tuple[int, pr.Usage, bytes]]) -> None:
    master = master_key()
    for slot, usage, key in keys:
        pad.load_work_key(MASTER_SLOT, slot, usage, c.encrypt_ecb(ALGORITHM, master, key), c.kcv(ALGORITHM, key, 3))
