"""``mch-kiosk selftest``: one harmless round trip per configured device, a table of OK / fault.

Each device's driver is built from the configuration with its real transport and asked for its
``self_test()``; any ``KioskDeviceError`` becomes a fault row with the driver's reason, and any
other exception a fault row too: one broken device never stops the others from being checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.config import A4PrinterConfig, BankCardConfig, KioskConfig, ReceiptConfig, SerialDeviceConfig
from kiosk.errors import KioskDeviceError
from kiosk.serial_transport import open_port
from kiosk.touch.kivy_input import TouchConfig, kivy_input_config

log = logging.getLogger(__name__)
STATUS_OK = "OK"
STATUS_FAULT = "FAULT"


@dataclass(frozen=True)
class CheckResult:
    device: str
    ok: bool
    detail: str
    where: str = ""


def _serial_check(device: str, cfg: SerialDeviceConfig, driver: Callable[[Any], Any]) -> str:
    port = open_port(cfg.port, device=device, baudrate=cfg.baudrate)
    try:
        return str(driver(port).self_test())
    finally:
        port.close()


def check_idcard(cfg: SerialDeviceConfig) -> str:
    from kiosk.idcard.driver import IdCardReader

    return _serial_check("idcard", cfg, IdCardReader)


def check_epp(cfg: SerialDeviceConfig) -> str:
    from kiosk.epp.driver import PinPad

    return _serial_check("epp", cfg, PinPad)


def check_ioboard(cfg: SerialDeviceConfig) -> str:
    from kiosk.ioboard.driver import IoBoard

    return _serial_check("ioboard", cfg, IoBoard)


def check_receipt(cfg: ReceiptConfig) -> str:
    from kiosk.receipt.backends import PrinterConfig, open_printer
    from kiosk.receipt.driver import ReceiptPrinter

    escpos = open_printer(PrinterConfig(kind=cfg.kind, url=cfg.url, baudrate=cfg.baudrate,  # type: ignore[arg-type]
                                        usb_vendor=cfg.usb_vendor, usb_product=cfg.usb_product,
                                        host=cfg.host, port=cfg.port))
    try:
        return ReceiptPrinter(escpos, name=cfg.url or cfg.host or cfg.kind).self_test()
    finally:
        transport = getattr(escpos, "transport", None)
        if transport is not None:
            transport.close()


def check_bankcard(cfg: BankCardConfig) -> str:
    from kiosk.bankcard import BankCardReader, PcscClient

    client = PcscClient(call_timeout_s=cfg.call_timeout_s)
    try:
        return BankCardReader(client, reader_name=cfg.reader or None, recovery_s=0).self_test()
    finally:
        client.release()


def check_a4printer(cfg: A4PrinterConfig) -> str:
    from kiosk.a4printer import A4Printer, PycupsClient

    return A4Printer(PycupsClient(cfg.server), cfg.queue, job_timeout_s=cfg.job_timeout_s).self_test()


def check_touch(cfg: TouchConfig) -> str:
    from kiosk.touch.device import self_test

    return self_test(cfg)


def check_touch_simulated(cfg: TouchConfig) -> str:
    """No /dev/uinput to fake a touchscreen with: check only what Kivy will be given."""
    return f"simulated (no input device): kivy input {kivy_input_config(cfg).entries[0][2]}"


CHECKS: dict[str, Callable[[Any], str]] = {
    "idcard": check_idcard, "epp": check_epp, "ioboard": check_ioboard, "receipt": check_receipt,
    "bankcard": check_bankcard, "a4printer": check_a4printer, "touch": check_touch,
}


def _where(cfg: Any) -> str:
    for attr in ("port", "url", "reader", "queue", "device"):
        value = getattr(cfg, attr, None)
        if isinstance(value, str) and value:
            return value
    return ""


def run_selftest(config: KioskConfig, *, checks: Mapping[str, Callable[[Any], str]] = CHECKS,
                 known_faults: Mapping[str, str] | None = None) -> list[CheckResult]:
    results = []
    for device in config.devices():
        cfg = getattr(config, device)
        where = _where(cfg)
        if known_faults and device in known_faults:
            results.append(CheckResult(device, False, known_faults[device], where))
            continue
        try:
            detail = checks[device](cfg)
            results.append(CheckResult(device, True, detail, where))
        except KioskDeviceError as exc:
            results.append(CheckResult(device, False, exc.message, exc.port or where))
        except Exception as exc:  # a driver bug must not hide the other devices' results
            log.exception("self-test of %s crashed", device)
            results.append(CheckResult(device, False, f"unexpected {type(exc).__name__}: {exc}", where))
    return results


def format_table(results: Sequence[CheckResult]) -> str:
    rows = [("DEVICE", "RESULT", "WHERE", "DETAIL")]
    rows += [(r.device, STATUS_OK if r.ok else STATUS_FAULT, r.where, r.detail) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3]]).rstrip()
             for row in rows]
    ok = sum(r.ok for r in results)
    lines.append(f"{ok}/{len(results)} devices OK")
    return "\n".join(lines)
