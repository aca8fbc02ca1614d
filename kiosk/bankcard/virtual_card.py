"""A virtual PBOC debit/credit card: answers command APDUs like a contact chip would.

``VirtualPbocCard.process(apdu) -> response`` is plain bytes in, bytes out, so unit tests use
the card directly as a transport; :mod:`kiosk.bankcard.vpcd` plugs the same card into pcscd's
vpcd virtual reader for the integration tests. The card also implements GENERATE AC (counting
its ATC) and VERIFY (counting PIN tries) so that tests can prove the kiosk never sends them.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date

from kiosk.bankcard import apdu as a
from kiosk.bankcard import emv, tlv
from kiosk.bankcard.card_profiles import CardProfile
from kiosk.bankcard.dol import TAG_COMMAND_TEMPLATE, parse_dol
from kiosk.bankcard.errors import CardReadError

SFI_DIRECTORY = 1
SFI_APPLICATION = 2
AIP_SDA_CARDHOLDER_VERIFICATION = bytes.fromhex("7C00")
SERVICE_CODE_IC = "220"
TRACK2_DISCRETIONARY = "00000000000"
PIN_TRY_LIMIT = 3
SW_WRONG_LENGTH = 0x6700
SW1_PIN_TRIES_LEFT = 0x63C0
TAG_ATC = 0x9F36
TAG_CRYPTOGRAM = 0x9F26
TAG_CID = 0x9F27
CID_ARQC = 0x80
LANGUAGE_ZH = b"zh"
LOG_ENTRY = bytes.fromhex("0B0A")
T0_MAX_CHUNK = 256


def _bcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex(digits)


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _yymmdd(d: date) -> bytes:
    return _bcd(d.strftime("%y%m%d"))


class VirtualPbocCard:
    def __init__(self, profile: CardProfile) -> None:
        self.profile = profile
        self.atc = 0
        self.pin_tries_left = PIN_TRY_LIMIT
        self.instructions_seen: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._selected: bytes | None = None
        self._gpo_done = False
        self._pending = b""
        self._last_partial: tuple[bytes, int] | None = None

    @property
    def atr(self) -> bytes:
        return self.profile.atr

    def reset(self) -> None:
        with self._lock:
            self._selected = None
            self._gpo_done = False
            self._pending = b""
            self._last_partial = None

    def transmit(self, command: bytes) -> bytes:
        """Transport interface (see ``channel.CardTransport``)."""
        return self.process(command)

    def process(self, raw: bytes) -> bytes:
        with self._lock:
            try:
                cmd = a.parse_command(raw)
            except CardReadError:
                return _sw(SW_WRONG_LENGTH)
            self.instructions_seen.append((cmd.cla, cmd.ins))
            data, sw = self._dispatch(cmd)
            return self._t0_wrap(cmd, data, sw) if self.profile.t0 else data + _sw(sw)

    # --- T=0 behaviour: 6Cxx on a wrong Le for case 2, 61xx for data of case 4 ------------------
    def _t0_wrap(self, cmd: a.CommandApdu, data: bytes, sw: int) -> bytes:
        if cmd.ins == a.INS_GET_RESPONSE:
            return data + _sw(sw)
        if data and not cmd.data and cmd.le is not None and cmd.le != len(data):
            return _sw((a.SW1_WRONG_LE << 8) | (len(data) % T0_MAX_CHUNK))
        if data and cmd.data:
            self._pending = data
            return _sw((a.SW1_BYTES_AVAILABLE << 8) | (len(data) % T0_MAX_CHUNK))
        return data + _sw(sw)

    def _get_response(self, cmd: a.CommandApdu) -> tuple[bytes, int]:
        if not self._pending:
            return b"", a.SW_CONDITIONS_NOT_SATISFIED
        le = cmd.le or T0_MAX_CHUNK
        chunk, self._pending = self._pending[:le], self._pending[le:]
        if self._pending:
            return chunk, (a.SW1_BYTES_AVAILABLE << 8) | (len(self._pending) % T0_MAX_CHUNK)
        return chunk, a.SW_OK

    # --- commands ----------------------------------------------------------------------------------
    def _dispatch(self, cmd: a.CommandApdu) -> tuple[bytes, int]:
        key = (cmd.cla, cmd.ins)
        if key == (a.CLA_ISO, a.INS_SELECT) and cmd.p1 == a.P1_SELECT_BY_NAME:
            return self._select(cmd)
        if key == (a.CLA_ISO, a.INS_READ_RECORD):
            return self._read_record(cmd)
        if key == (a.CLA_PROPRIETARY, a.INS_GET_PROCESSING_OPTIONS):
            return self._gpo(cmd)
        if key == (a.CLA_ISO, a.INS_GET_RESPONSE) and self.profile.t0:
            return self._get_response(cmd)
        if key == (a.CLA_PROPRIETARY, a.INS_GENERATE_AC):
            return self._generate_ac()
        if key == (a.CLA_ISO, a.INS_VERIFY):
            return self._verify()
        return b"", a.SW_INS_NOT_SUPPORTED

    def _select(self, cmd: a.CommandApdu) -> tuple[bytes, int]:
        self._gpo_done = False
        name = cmd.data
        if name == emv.PSE_NAME and self.profile.pse:
            self._selected = name
            return self._pse_fci(), a.SW_OK
        if name == emv.PPSE_NAME and self.profile.ppse:
            self._selected = name
            return self._ppse_fci(), a.SW_OK
        matches = [aid for aid in self.profile.applications if aid.startswith(name)] if name else []
        index = 0
        if cmd.p2 == a.P2_SELECT_NEXT and self._last_partial and self._last_partial[0] == name:
            index = self._last_partial[1] + 1
        if index >= len(matches):
            self._selected = None
            return b"", a.SW_FILE_NOT_FOUND
        self._last_partial = (name, index)
        self._selected = matches[index]
        return self._adf_fci(matches[index]), a.SW_OK

    def _entry(self, aid: bytes, priority: int) -> tlv.Tlv:
        return tlv.build(emv.TAG_DIRECTORY_ENTRY, tlv.build(emv.TAG_AID, aid),
                         tlv.build(emv.TAG_LABEL, self.profile.labels.get(aid, "APP").encode()),
                         tlv.build(emv.TAG_PRIORITY, bytes([priority])))

    def _pse_fci(self) -> bytes:
        return tlv.build(emv.TAG_FCI, tlv.build(emv.TAG_DF_NAME, emv.PSE_NAME),
                         tlv.build(emv.TAG_FCI_PROPRIETARY, tlv.build(emv.TAG_SFI, bytes([SFI_DIRECTORY])),
                                   tlv.build(0x5F2D, LANGUAGE_ZH))).encode()

    def _ppse_fci(self) -> bytes:
        entries = [self._entry(aid, i + 1) for i, aid in enumerate(self.profile.applications)]
        return tlv.build(emv.TAG_FCI, tlv.build(emv.TAG_DF_NAME, emv.PPSE_NAME),
                         tlv.build(emv.TAG_FCI_PROPRIETARY,
                                   tlv.build(emv.TAG_FCI_ISSUER_DISCRETIONARY, *entries))).encode()

    def _adf_fci(self, aid: bytes) -> bytes:
        proprietary = [tlv.build(emv.TAG_LABEL, self.profile.labels.get(aid, "APP").encode()),
                       tlv.build(emv.TAG_PRIORITY, b"\x01")]
        if self.profile.pdol:
            proprietary.append(tlv.build(emv.TAG_PDOL, self.profile.pdol))
        proprietary += [tlv.build(0x5F2D, LANGUAGE_ZH),
                        tlv.build(emv.TAG_FCI_ISSUER_DISCRETIONARY, tlv.build(0x9F4D, LOG_ENTRY))]
        return tlv.build(emv.TAG_FCI, tlv.build(emv.TAG_DF_NAME, aid),
                         tlv.build(emv.TAG_FCI_PROPRIETARY, *proprietary)).encode()

    def _is_payment_app(self) -> bool:
        return self._selected is not None and self._selected.startswith(emv.UNIONPAY_RID)

    def _gpo(self, cmd: a.CommandApdu) -> tuple[bytes, int]:
        if not self._is_payment_app():
            return b"", a.SW_CONDITIONS_NOT_SATISFIED
        expected = sum(e.length for e in parse_dol(self.profile.pdol)) if self.profile.pdol else 0
        try:
            template = tlv.decode_one(cmd.data, TAG_COMMAND_TEMPLATE)
        except CardReadError:
            return b"", SW_WRONG_LENGTH
        if len(template.value) != expected:
            return b"", SW_WRONG_LENGTH
        self.atc += 1  # a real card counts GPO in its ATC as well
        self._gpo_done = True
        afl = bytes([SFI_APPLICATION << a.SFI_SHIFT, 1, 2, 1])
        return tlv.build(emv.TAG_GPO_FORMAT2, tlv.build(emv.TAG_AIP, AIP_SDA_CARDHOLDER_VERIFICATION),
                         tlv.build(emv.TAG_AFL, afl)).encode(), a.SW_OK

    def _records(self) -> dict[tuple[int, int], bytes]:
        p = self.profile
        entries = [self._entry(aid, i + 1) for i, aid in enumerate(p.applications)]
        track2 = _bcd(p.pan + "D" + p.expiry.strftime("%y%m") + SERVICE_CODE_IC + TRACK2_DISCRETIONARY)
        rec2 = [tlv.build(0x5A, _bcd(p.pan)), tlv.build(0x5F24, _yymmdd(p.expiry)),
                tlv.build(0x5F25, _yymmdd(date(p.expiry.year - 10, 1, 1))),
                tlv.build(0x5F28, bytes.fromhex("0156")), tlv.build(0x5F34, b"\x01")]
        if p.id_number is not None:
            rec2.append(tlv.build(0x9F61, p.id_number.encode("ascii")))
        if p.id_type is not None:
            rec2.append(tlv.build(0x9F62, bytes([p.id_type])))
        return {
            (SFI_DIRECTORY, 1): tlv.build(emv.TAG_RECORD_TEMPLATE, *entries).encode(),
            (SFI_APPLICATION, 1): tlv.build(emv.TAG_RECORD_TEMPLATE, tlv.build(0x57, track2),
                                            tlv.build(0x5F20, p.cardholder_name.encode("ascii"))).encode(),
            (SFI_APPLICATION, 2): tlv.build(emv.TAG_RECORD_TEMPLATE, *rec2).encode(),
        }

    def _read_record(self, cmd: a.CommandApdu) -> tuple[bytes, int]:
        sfi = cmd.p2 >> a.SFI_SHIFT
        if sfi == SFI_DIRECTORY and self._selected != emv.PSE_NAME:
            return b"", a.SW_CONDITIONS_NOT_SATISFIED
        if sfi == SFI_APPLICATION and not self._gpo_done:
            return b"", a.SW_CONDITIONS_NOT_SATISFIED
        record = self._records().get((sfi, cmd.p1))
        if record is None:
            return b"", a.SW_RECORD_NOT_FOUND
        return record, a.SW_OK

    def _generate_ac(self) -> tuple[bytes, int]:
        if not self._gpo_done:
            return b"", a.SW_CONDITIONS_NOT_SATISFIED
        self.atc += 1
        cryptogram = hashlib.sha256(self.atc.to_bytes(2, "big") + self.profile.pan.encode()).digest()[:8]
        return tlv.build(emv.TAG_GPO_FORMAT2, tlv.build(TAG_CID, bytes([CID_ARQC])),
                         tlv.build(TAG_ATC, self.atc.to_bytes(2, "big")),
                         tlv.build(TAG_CRYPTOGRAM, cryptogram)).encode(), a.SW_OK

    def _verify(self) -> tuple[bytes, int]:
        self.pin_tries_left = max(self.pin_tries_left - 1, 0)
        return b"", SW1_PIN_TRIES_LEFT | self.pin_tries_left
