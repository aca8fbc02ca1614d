"""Receipt layout rendering time vs a plain baseline.

Measured: ``render_bytes`` of a payment receipt (layout, masking, double-byte runs, QR, cut,
through python-escpos' Dummy).  Baseline, same run: encoding the receipt's final text lines
to GB18030 and nothing else.  Ends with ``RESULT receipt_render us_per_receipt=<..> ratio=<..>``.
"""

from __future__ import annotations

import datetime as dt
import timeit

from kiosk.receipt.decode import decode
from kiosk.receipt.layout import TITLE_PAYMENT, Item, Receipt, render_bytes

NUMBER = 400
REPEAT = 5


def make_receipt() -> Receipt:
    items = tuple(Item(name, fen) for name, fen in (("产检挂号费", 1250), ("B超检查", 16000), ("血常规", 2500),
                                                       ("尿常规", 1500), ("胎心监护", 3000)))
    return Receipt("样例市妇幼保健院", TITLE_PAYMENT, "测试甲", items, "6222********1234",
                   "TXN-20261125-0001", dt.datetime(2026, 11, 25, 9, 30))


def main() -> None:
    receipt = make_receipt()
    lines = [line for line in decode(render_bytes(receipt)).lines if line]

    def baseline() -> bytes:
        return "\n".join(lines).encode("gb18030")

    def rendered() -> bytes:
        return render_bytes(receipt)

    base_s = min(timeit.repeat(baseline, number=NUMBER, repeat=REPEAT)) / NUMBER
    render_s = min(timeit.repeat(rendered, number=NUMBER, repeat=REPEAT)) / NUMBER
    print(f"receipt_lines={len(lines)} bytes={len(rendered())} baseline_us={base_s * 1e6:.2f} "
          f"render_us={render_s * 1e6:.2f}")
    print(f"RESULT receipt_render us_per_receipt={render_s * 1e6:.1f} ratio={render_s / base_s:.1f}")


if __name__ == "__main__":
    main()
