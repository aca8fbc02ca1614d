"""The hardware seam: the only place that knows which board it runs on.

Firmware modules never import `machine`, `network`, `ssl` or `esp32`; they receive a board
object (from `open_board`) and a transport from it. `hw_esp32` drives the real chip; `hw_host`
backs the same interface with host resources for the unix port and CPython tests (UART on a
pseudo-terminal, GPIO as files, flash as a directory, partitions as files).

Board interface (duck-typed, both implementations provide it):
    flash_root                  directory of the device's persistent files
    uart(port, baud)            -> object with read(max_n, timeout_ms) -> bytes, write(data)
    pin_in(name) / pin_out(name)-> object with value() / value(v)
    watchdog(timeout_ms)        -> object with feed()
    wifi()                      -> object with connect(ssid, psk), isconnected()
    slots()                     -> update slots (see update.py): running, inactive, set_boot, boot, ...
    secure_version()            -> hardware anti-rollback counter with get() -> int (ESP32: eFuse),
                                   or None where there is none (host)
    tls_wrap(sock, tls, host)   -> a TLS stream with read/write/close (mTLS, CERT_REQUIRED)
    reset()                     -> reboot (host: raise SystemExit)
"""

import sys

PLATFORM_ESP32 = "esp32"


def is_esp32() -> bool:
    return sys.platform == PLATFORM_ESP32


def open_board(state_dir: str = "", **options):
    """The board for this platform; `state_dir` and options only matter on the host."""
    if is_esp32():
        from mchfw import hw_esp32

        return hw_esp32.Board(**options)
    from mchfw import hw_host

    return hw_host.Board(state_dir, **options)


def tls_context(cert_der: bytes, key_der: bytes, ca_der: bytes):
    """A client TLS context that presents the device certificate and verifies the broker.

    mbedTLS in MicroPython parses DER only (PEM is refused: 'invalid cert'), so config.py
    converts the bundle's PEM files. CERT_REQUIRED is the only mode that validates anything.
    """
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # ssl.py wrapper attribute, not in the stub
    ctx.load_verify_locations(cadata=ca_der)
    ctx.load_cert_chain(cert_der, key_der)
    return ctx


def tls_wrap(sock, ctx, server_hostname: str):
    return ctx.wrap_socket(sock, server_hostname=server_hostname)
