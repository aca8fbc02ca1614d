"""The PBOC/EMV read-only flow: application selection, GET PROCESSING OPTIONS, READ RECORD.

1. SELECT the PSE ``1PAY.SYS.DDF01`` and read its directory; else the PPSE ``2PAY.SYS.DDF01``;
   else try the candidate AIDs (partial selection, first then next occurrence).
2. SELECT the chosen application; fill its PDOL (9F38) with terminal data; GPO.
3. READ RECORD every record named by the AFL and build :class:`BankCardData`.
Nothing else is sent: no GENERATE AC, no VERIFY (the channel refuses them anyway).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kiosk.bankcard import apdu as a
from kiosk.bankcard import dol, tlv
from kiosk.bankcard.card_data import BankCardData, card_data_from_records
from kiosk.bankcard.channel import ReadOnlyChannel
from kiosk.bankcard.errors import CardReadError, StripeOnlyCardError, TlvError

PSE_NAME = b"1PAY.SYS.DDF01"
PPSE_NAME = b"2PAY.SYS.DDF01"
UNIONPAY_RID = bytes.fromhex("A000000333")
UNIONPAY_AIDS = tuple(bytes.fromhex(h) for h in (
    "A000000333010101",  # debit
    "A000000333010102",  # credit
    "A000000333010103",  # quasi-credit
    "A000000333010106",  # pure e-cash
    "A000000333010108",
))
MAX_NEXT_OCCURRENCES = 8
MAX_PSE_RECORDS = 16
MAX_AFL_RECORDS = 64
AFL_ENTRY_LENGTH = 4
MAX_DIRECTORY_SFI = 10
PRIORITY_MASK = 0x0F

TAG_FCI = 0x6F
TAG_DF_NAME = 0x84
TAG_FCI_PROPRIETARY = 0xA5
TAG_SFI = 0x88
TAG_FCI_ISSUER_DISCRETIONARY = 0xBF0C
TAG_RECORD_TEMPLATE = 0x70
TAG_DIRECTORY_ENTRY = 0x61
TAG_AID = 0x4F
TAG_LABEL = 0x50
TAG_PRIORITY = 0x87
TAG_PREFERRED_NAME = 0x9F12
TAG_PDOL = 0x9F38
TAG_GPO_FORMAT1 = 0x80
TAG_GPO_FORMAT2 = 0x77
TAG_AIP = 0x82
TAG_AFL = 0x94
AIP_LENGTH = 2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Application:
    aid: bytes
    label: str
    priority: int = PRIORITY_MASK + 1  # no priority indicator sorts last


@dataclass(frozen=True)
class AflEntry:
    sfi: int
    first: int
    last: int
    oda_records: int


def parse_afl(value: bytes) -> tuple[AflEntry, ...]:
    if not value or len(value) % AFL_ENTRY_LENGTH:
        raise CardReadError(f"AFL length {len(value)} is not a multiple of 4")
    entries = []
    for i in range(0, len(value), AFL_ENTRY_LENGTH):
        b0, first, last, oda = value[i:i + AFL_ENTRY_LENGTH]
        sfi = b0 >> a.SFI_SHIFT
        if not 1 <= sfi <= a.MAX_SFI or first == 0 or last < first or oda > last - first + 1:
            raise CardReadError(f"AFL entry {value[i:i + 4].hex().upper()} is invalid")
        entries.append(AflEntry(sfi, first, last, oda))
    return tuple(entries)


def parse_gpo_response(data: bytes) -> tuple[bytes, tuple[AflEntry, ...], tuple[tlv.Tlv, ...]]:
    """AIP, AFL and any data objects returned with a format-2 response."""
    objects = tlv.decode(data)
    if len(objects) != 1:
        raise CardReadError("GPO response is not one template")
    top = objects[0]
    if top.tag == TAG_GPO_FORMAT1:
        if len(top.value) < AIP_LENGTH + AFL_ENTRY_LENGTH:
            raise CardReadError("GPO format 1 response too short")
        return top.value[:AIP_LENGTH], parse_afl(top.value[AIP_LENGTH:]), ()
    if top.tag == TAG_GPO_FORMAT2:
        aip, afl = top.find(TAG_AIP), top.find(TAG_AFL)
        if aip is None or afl is None:
            raise CardReadError("GPO format 2 response lacks AIP or AFL")
        return aip.value, parse_afl(afl.value), top.children
    raise CardReadError(f"GPO response template 0x{top.tag:X} is neither 80 nor 77")


def _label(entry: tlv.Tlv) -> str:
    obj = entry.find(TAG_PREFERRED_NAME) or entry.find(TAG_LABEL)
    return obj.value.decode("ascii", errors="replace").strip() if obj else ""


def _application(entry: tlv.Tlv) -> Application | None:
    aid = entry.find(TAG_AID)
    if aid is None or not aid.value:
        return None
    prio = entry.find(TAG_PRIORITY)
    priority = prio.value[0] & PRIORITY_MASK if prio and prio.value else PRIORITY_MASK + 1
    return Application(aid.value, _label(entry), priority or PRIORITY_MASK + 1)


class EmvReader:
    """Runs the read-only flow over a :class:`ReadOnlyChannel`."""

    def __init__(self, channel: ReadOnlyChannel, *, aid_candidates: Sequence[bytes] = UNIONPAY_AIDS,
                 clock: Callable[[], datetime] = datetime.now,
                 unpredictable: Callable[[int], bytes] = os.urandom) -> None:
        self._channel = channel
        self._candidates = tuple(aid_candidates)
        self._clock = clock
        self._unpredictable = unpredictable

    def read(self) -> BankCardData:
        try:
            applications = self.list_applications()
            if not applications:
                raise StripeOnlyCardError(
                    "the chip has no UnionPay/EMV payment application; magnetic-stripe-only and "
                    "non-bank cards are not accepted")
            last_error: CardReadError | None = None
            for app in applications:
                fci = self._select(app.aid)
                if fci is None:
                    continue
                try:
                    return self._read_application(app, fci)
                except CardReadError as exc:
                    last_error = exc
            raise last_error or StripeOnlyCardError("no payment application on the chip could be selected")
        except TlvError as exc:
            raise CardReadError(f"card sent malformed data: {exc.message}") from exc

    # --- application selection -----------------------------------------------------------------
    def list_applications(self) -> list[Application]:
        apps = self._from_pse() or self._from_ppse() or self._from_candidates()
        wanted = [app for app in apps if self._supported(app.aid)]
        return sorted(wanted, key=lambda app: app.priority)

    def _supported(self, aid: bytes) -> bool:
        return any(aid.startswith(c) or c.startswith(aid) for c in self._candidates)

    def _from_pse(self) -> list[Application]:
        response = self._channel.exchange(a.select_by_name(PSE_NAME))
        if not response.ok:
            log.info("no PSE: %s", a.sw_text(response.sw))
            return []
        sfi_obj = tlv.find(tlv.decode(response.data), tag=TAG_SFI)
        if sfi_obj is None or len(sfi_obj.value) != 1 or not 1 <= sfi_obj.value[0] <= MAX_DIRECTORY_SFI:
            raise CardReadError("PSE FCI has no valid directory SFI (88)")
        apps: list[Application] = []
        for record in range(1, MAX_PSE_RECORDS + 1):
            r = self._channel.exchange(a.read_record(sfi_obj.value[0], record))
            if r.sw == a.SW_RECORD_NOT_FOUND:
                break
            if not r.ok:
                raise CardReadError(f"PSE directory record {record}: {a.sw_text(r.sw)}")
            template = tlv.decode_one(r.data, TAG_RECORD_TEMPLATE)
            apps.extend(app for e in template.children if e.tag == TAG_DIRECTORY_ENTRY
                        if (app := _application(e)) is not None)
        return apps

    def _from_ppse(self) -> list[Application]:
        response = self._channel.exchange(a.select_by_name(PPSE_NAME))
        if not response.ok:
            log.info("no PPSE: %s", a.sw_text(response.sw))
            return []
        fci = tlv.decode_one(response.data, TAG_FCI)
        directory = fci.find(TAG_FCI_ISSUER_DISCRETIONARY)
        if directory is None:
            return []
        return [app for e in directory.children if e.tag == TAG_DIRECTORY_ENTRY
                if (app := _application(e)) is not None]

    def _from_candidates(self) -> list[Application]:
        found: list[Application] = []
        for candidate in self._candidates:
            next_occurrence = False
            for _ in range(MAX_NEXT_OCCURRENCES):
                r = self._channel.exchange(a.select_by_name(candidate, next_occurrence=next_occurrence))
                if not r.ok:
                    break
                fci = tlv.decode_one(r.data, TAG_FCI)
                name = fci.find(TAG_DF_NAME)
                aid = name.value if name else candidate
                if all(app.aid != aid for app in found):
                    label = fci.find(TAG_LABEL)
                    found.append(Application(aid, label.value.decode("ascii", "replace").strip() if label else ""))
                next_occurrence = True
        return found

    def _select(self, aid: bytes) -> tlv.Tlv | None:
        r = self._channel.exchange(a.select_by_name(aid))
        if not r.ok:
            log.info("application %s not selectable: %s", aid.hex().upper(), a.sw_text(r.sw))
            return None
        return tlv.decode_one(r.data, TAG_FCI)

    # --- GPO and records --------------------------------------------------------------------------
    def _read_application(self, app: Application, fci: tlv.Tlv) -> BankCardData:
        pdol = fci.find(TAG_PDOL)
        values = dol.terminal_data(self._clock(), self._unpredictable(dol.UNPREDICTABLE_NUMBER_LENGTH))
        template = dol.gpo_command_template(pdol.value if pdol else None, values)
        r = self._channel.exchange(a.get_processing_options(template))
        if not r.ok:
            raise CardReadError(f"GET PROCESSING OPTIONS refused: {a.sw_text(r.sw)}")
        _aip, afl, gpo_objects = parse_gpo_response(r.data)
        records: list[tlv.Tlv] = list(gpo_objects)
        count = 0
        for entry in afl:
            for number in range(entry.first, entry.last + 1):
                count += 1
                if count > MAX_AFL_RECORDS:
                    raise CardReadError(f"AFL names more than {MAX_AFL_RECORDS} records")
                rr = self._channel.exchange(a.read_record(entry.sfi, number))
                if not rr.ok:
                    raise CardReadError(f"READ RECORD SFI {entry.sfi} record {number}: {a.sw_text(rr.sw)}")
                records.append(tlv.decode_one(rr.data, TAG_RECORD_TEMPLATE))
        name = fci.find(TAG_DF_NAME)
        return card_data_from_records(records, aid=name.value if name else app.aid,
                                      label=app.label or _label(fci))
