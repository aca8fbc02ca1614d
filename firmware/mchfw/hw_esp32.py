"""ESP32 board: machine.UART/Pin/WDT, network.WLAN, esp32.Partition (OTA with rollback).

Only this module (and hw.tls_context) touches the chip. Pin numbers and the UART come from
config.json's "hw" section; defaults suit an ESP32-DevKitC with the monitor on UART2.
"""

import esp32
import machine
import network

DEFAULT_UART = 2
DEFAULT_TX = 17
DEFAULT_RX = 16
UART_RXBUF = 1024
BLOCK = 4096
FLASH_ROOT = "/flash"
# ESP-IDF's SECURE_VERSION eFuse field on the ESP32: BLK3 bits 128..159 (components/efuse/esp32/
# esp_efuse_table.csv), i.e. the 5th read word of BLK3 (EFUSE_BLK3_RDATA4_REG = DR_REG_EFUSE_BASE
# 0x3FF5A000 + 0x088 in the TRM's register map). Not read on hardware here.
EFUSE_BLK3_RDATA4 = 0x3FF5A088
WORD_MASK = 0xFFFFFFFF


class Uart:
    def __init__(self, port: int, baud: int, tx: int, rx: int) -> None:
        self._u = machine.UART(port, baudrate=baud, tx=tx, rx=rx, rxbuf=UART_RXBUF, timeout=0)

    def read(self, max_n: int, timeout_ms: int) -> bytes:
        import time

        start = time.ticks_ms()
        while not self._u.any():
            if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                return b""
            time.sleep_ms(2)
        return self._u.read(max_n) or b""

    def write(self, data: bytes) -> int:
        return self._u.write(data) or 0


class Wifi:
    def __init__(self) -> None:
        self._w = network.WLAN(network.WLAN.IF_STA)
        self._w.active(True)

    def connect(self, ssid: str, psk: str) -> None:
        if not self._w.isconnected():
            self._w.connect(ssid, psk)

    def isconnected(self) -> bool:
        return bool(self._w.isconnected())


class Slots:
    """OTA app partitions; ESP-IDF's bootloader does the rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE)."""

    def __init__(self, manifests_store) -> None:
        self._running = esp32.Partition(esp32.Partition.RUNNING)  # type: ignore[arg-type]  # stub says str; RUNNING is documented
        self._next = self._running.get_next_update()
        self.size = self._next.info()[3]
        self.ota = manifests_store
        self.running = 0 if self._running.info()[4] == "ota_0" else 1

    def inactive(self) -> int:
        return 1 - self.running

    def manifest(self, i: int):
        return self.ota.data.get("manifests", {}).get(str(i))

    def erase(self, i: int) -> None:
        for block in range(self.size // BLOCK):
            self._next.ioctl(6, block)  # MP_BLOCKDEV_IOCTL_BLOCK_ERASE

    def write(self, i: int, offset: int, data: bytes) -> None:
        buf = bytearray(BLOCK)
        buf[: len(data)] = data
        for n in range(len(data), BLOCK):
            buf[n] = 0xFF
        self._next.writeblocks(offset // BLOCK, buf)

    def sha256(self, i: int, length: int) -> bytes:
        import hashlib

        h = hashlib.sha256()
        buf = bytearray(BLOCK)
        for block in range((length + BLOCK - 1) // BLOCK):
            self._next.readblocks(block, buf)
            h.update(bytes(buf[: min(BLOCK, length - block * BLOCK)]))
        return h.digest()

    def set_boot(self, i: int, manifest: dict) -> None:
        self.ota.data.setdefault("manifests", {})[str(i)] = manifest
        self.ota.save()
        self._next.set_boot()

    def boot(self) -> int:
        """The bootloader has chosen already (and rolled back if it had to); nothing to do here."""
        return self.running

    def mark_valid(self) -> None:
        esp32.Partition.mark_app_valid_cancel_rollback()


class SecureVersion:
    """The eFuse anti-rollback counter: a hardware monotonic store a flash rewrite cannot lower.

    ESP-IDF keeps it unary (the number of bits burnt). With CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK the
    bootloader refuses an app whose descriptor's secure_version is below it, and
    `mark_app_valid_cancel_rollback()` (Slots.mark_valid, called when an image confirms itself)
    burns it up to the running app's secure_version. Our releases carry the security epoch in
    the version's MAJOR (mch-provision firmware sign checks the descriptor against it), so the
    updater refuses, before writing, any image whose MAJOR is below this counter.
    """

    def get(self) -> int:
        word = machine.mem32[EFUSE_BLK3_RDATA4] & WORD_MASK
        count = 0
        while word:
            count += word & 1
            word >>= 1
        return count


class Watchdog:
    def __init__(self, timeout_ms: int) -> None:
        self._w = machine.WDT(timeout=timeout_ms)

    def feed(self) -> None:
        self._w.feed()


class Pin:
    def __init__(self, number: int, out: bool, initial: int = 0) -> None:
        if out:
            self._p = machine.Pin(number, machine.Pin.OUT, value=initial)
        else:
            self._p = machine.Pin(number, machine.Pin.IN, machine.Pin.PULL_UP)

    def value(self, v=None):
        if v is None:
            return self._p.value()
        self._p.value(v)
        return None


class Board:
    def __init__(self, pins=None, uart_tx: int = DEFAULT_TX, uart_rx: int = DEFAULT_RX) -> None:
        self.flash_root = FLASH_ROOT
        self.pins = pins or {}
        self.uart_tx, self.uart_rx = uart_tx, uart_rx

    def uart(self, port=None, baud: int = 9600) -> Uart:
        return Uart(port if isinstance(port, int) else DEFAULT_UART, baud, self.uart_tx, self.uart_rx)

    def pin_in(self, name: str) -> Pin:
        return Pin(self.pins[name], False)

    def pin_out(self, name: str, initial: int = 0) -> Pin:
        return Pin(self.pins[name], True, initial)

    def watchdog(self, timeout_ms: int) -> Watchdog:
        return Watchdog(timeout_ms)

    def wifi(self) -> Wifi:
        return Wifi()

    def slots(self) -> Slots:
        from mchfw.store import Store

        return Slots(Store(self.flash_root + "/otadata"))

    def secure_version(self) -> SecureVersion:
        return SecureVersion()

    def tls_wrap(self, sock, ctx, server_hostname: str):
        from mchfw import hw

        return hw.tls_wrap(sock, ctx, server_hostname)

    def reset(self) -> None:
        machine.reset()

    def free_bytes(self) -> int:
        import os

        st = os.statvfs(self.flash_root)
        return st[0] * st[4]
