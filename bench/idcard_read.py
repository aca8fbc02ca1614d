"""ID-card read time vs wire time: driver + paced simulator over a pty at 115200 baud.

Measured: from the find-card command that first sees the card (20 01) to the decoded, validated
Identity (after 20 02 and 30 01).  Baseline: the wire time of every byte of those frames at
115200 8N1 (the simulator paces each byte at that speed, both directions).
Ends with ``RESULT idcard_read ratio_to_wire=<measured/wire> read_ms=<..> wire_ms=<..>``.
"""

from __future__ import annotations

import statistics
import time

from kiosk.idcard import frames as f
from kiosk.idcard.driver import IdCardReader
from kiosk.idcard.simulator import CARD_SN, start_on_pty, valid_card
from kiosk.serial_transport import DEFAULT_BAUD, open_port, wire_time_s

ROUNDS = 25
WARMUP = 3


def wire_bytes(card_text: bytes, photo: bytes) -> int:
    requests = [f.encode_request(c) for c in (f.Command.FIND_CARD, f.Command.SELECT_CARD, f.Command.READ_TEXT_PHOTO)]
    responses = [f.encode_response(f.Sw3.CARD_FOUND, bytes(4)), f.encode_response(f.Sw3.OK, CARD_SN),
                 f.encode_response(f.Sw3.OK, f.encode_card_data(f.CardData(card_text, photo)))]
    return sum(len(frame) for frame in requests + responses)


def main() -> None:
    card = valid_card(11)
    handle = start_on_pty([card], paced=True)
    port = open_port(handle.port_url, device="idcard", timeout_s=1.0)
    try:
        reader = IdCardReader(port)
        times = []
        for i in range(WARMUP + ROUNDS):
            start = time.perf_counter()
            read = reader.read_card()
            elapsed = time.perf_counter() - start
            if read is None:
                raise SystemExit("simulator lost the card")
            if i >= WARMUP:
                times.append(elapsed)
    finally:
        port.close()
        handle.stop()
    wire_s = wire_time_s(wire_bytes(card.text, card.photo_wlt), DEFAULT_BAUD)
    read_s = statistics.median(times)
    print(f"rounds={ROUNDS} median_ms={read_s * 1e3:.2f} min_ms={min(times) * 1e3:.2f} "
          f"max_ms={max(times) * 1e3:.2f} wire_bytes={wire_bytes(card.text, card.photo_wlt)}")
    print(f"RESULT idcard_read ratio_to_wire={read_s / wire_s:.3f} read_ms={read_s * 1e3:.2f} "
          f"wire_ms={wire_s * 1e3:.2f}")


if __name__ == "__main__":
    main()
