"""Receipt layout: byte-exact against named constants, masking, decoding back to text."""

from __future__ import annotations

import datetime as dt

import pytest
from escpos.printer import Dummy

from kiosk.receipt.commands import CN_REPLACEMENT, FS_CN_OFF, FS_CN_ON, display_width, encode_text
from kiosk.receipt.decode import decode
from kiosk.receipt.layout import TITLE_PAYMENT, Item, Receipt, format_fen, mask_name, render_bytes

GB_GUAHAO_PINGTIAO = bytes.fromhex("B9D2BAC5C6BECCF5")  # 挂号凭条 in GB18030 (reference, verified)
GB_FULLWIDTH_YUAN_SIGN = bytes.fromhex("A3A4")  # ￥
ESCPOS_31_CN_OUTPUT = GB_GUAHAO_PINGTIAO + b" ABC\n"  # python-escpos 3.1 text(): no FS &

ESC_INIT = b"\x1b@"
TXT_NORMAL = b"\x1b!\x00"
TXT_2X = b"\x1b!\x30"
BOLD_ON, BOLD_OFF = b"\x1bE\x01", b"\x1bE\x00"
ALIGN_LEFT, ALIGN_CENTER = b"\x1ba\x00", b"\x1ba\x01"
HOSPITAL_GB = bytes.fromhex("D1F9C0FDCAD0B8BED3D7B1A3BDA1D4BA")  # 样例市妇幼保健院
TITLE_GB = bytes.fromhex("BDC9B7D1C6BECCF5")  # 缴费凭条
QR_TXN = (b"\x1d(k\x04\x001A2\x00" b"\x1d(k\x03\x001C\x06" b"\x1d(k\x03\x001E0"
          b"\x1d(k\x18\x001P0TXN:TXN-20261125-0001" b"\x1d(k\x03\x001Q0")
FOOTER_GB = bytes.fromhex("C7EBCDD7C9C6B1A3B9DCB4CBC6BECCF5")  # 请妥善保管此凭条
FEED_AND_CUT = b"\x1bd\x06\x1dV\x00"
RECEIPT_HEAD = (ESC_INIT + TXT_NORMAL + TXT_NORMAL + TXT_2X + BOLD_ON + ALIGN_CENTER
                + FS_CN_ON + HOSPITAL_GB + FS_CN_OFF + b"\n"
                + TXT_NORMAL + TXT_NORMAL + TXT_NORMAL + BOLD_ON + FS_CN_ON + TITLE_GB + FS_CN_OFF + b"\n"
                + BOLD_OFF + ALIGN_LEFT)
RECEIPT_TAIL = ALIGN_CENTER + QR_TXN + FS_CN_ON + FOOTER_GB + FS_CN_OFF + b"\n" + ALIGN_LEFT + FEED_AND_CUT
EXPECTED_LINES = [
    "样例市妇幼保健院", "缴费凭条", "患者: 测*甲", "银行卡: 6222********1234", "-" * 32,
    "产检挂号费               12.50元", "B超                     160.00元", "-" * 32,
    "合计                    172.50元", "时间: 2026-11-25 09:30:00", "流水号: TXN-20261125-0001",
    "请妥善保管此凭条",
]


def _receipt(**over: object) -> Receipt:
    values: dict[str, object] = dict(
        hospital="样例市妇幼保健院", title=TITLE_PAYMENT, patient_name="测试甲",
        items=(Item("产检挂号费", 1250), Item("B超", 16000)), masked_pan="6222********1234",
        txn_id="TXN-20261125-0001", time=dt.datetime(2026, 11, 25, 9, 30))
    values.update(over)
    return Receipt(**values)  # type: ignore[arg-type]


def test_python_escpos_behaviour_we_build_on() -> None:
    dummy = Dummy()
    dummy.text("挂号凭条 ABC\n")
    assert dummy.output == ESCPOS_31_CN_OUTPUT and FS_CN_ON not in dummy.output


def test_encode_text_uses_fs_and_double_byte_mode() -> None:
    assert encode_text("挂号凭条 ABC\n") == FS_CN_ON + GB_GUAHAO_PINGTIAO + FS_CN_OFF + b" ABC\n"
    assert encode_text("￥5") == FS_CN_ON + GB_FULLWIDTH_YUAN_SIGN + FS_CN_OFF + b"5"
    four_byte = "\U00020000"
    assert encode_text(four_byte) == FS_CN_ON + CN_REPLACEMENT.encode("gb18030") + FS_CN_OFF
    assert encode_text(four_byte, four_byte_ok=True) == FS_CN_ON + four_byte.encode("gb18030") + FS_CN_OFF
    assert encode_text("a\x07b") == b"ab"
    assert display_width("B超") == 3


def test_receipt_bytes_exact() -> None:
    out = render_bytes(_receipt())
    assert out.startswith(RECEIPT_HEAD) and out.endswith(RECEIPT_TAIL)
    body = out[len(RECEIPT_HEAD):-len(RECEIPT_TAIL)]
    assert body == encode_text("\n".join(EXPECTED_LINES[2:11]) + "\n")


def test_receipt_decodes_back_to_text() -> None:
    decoded = decode(render_bytes(_receipt()))
    assert [line for line in decoded.lines if line] == EXPECTED_LINES
    assert decoded.qr_codes == ["TXN:TXN-20261125-0001"] and decoded.cuts == 1
    assert decoded.bold_lines == ["样例市妇幼保健院", "缴费凭条"]


@pytest.mark.parametrize(("name", "masked"), [("测试", "测*"), ("测试甲", "测*甲"), ("欧阳测试", "欧**试"), ("甲", "*")])
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_full_pan_is_refused() -> None:
    with pytest.raises(ValueError, match="masked"):
        _receipt(masked_pan="6222020200112233445")
    out = render_bytes(_receipt(masked_pan=None))
    assert b"6222" not in out


def test_bad_receipts_are_refused() -> None:
    with pytest.raises(ValueError):
        _receipt(txn_id="bad id with spaces")
    with pytest.raises(ValueError):
        _receipt(items=())


def test_amounts() -> None:
    assert format_fen(0) == "0.00" and format_fen(1250) == "12.50" and format_fen(-5) == "-0.05"


def test_registration_receipt_reads_back() -> None:
    from kiosk.receipt.layout import registration_receipt

    receipt = registration_receipt(hospital="样例市妇幼保健院", patient_name="模拟乙丙", department="产科门诊",
                                   doctor="测试医生", queue_no=17, fee_fen=500, txn_id="REG-0042",
                                   time=dt.datetime(2026, 11, 25, 8, 5))
    lines = [line for line in decode(render_bytes(receipt)).lines if line]
    assert lines[:3] == ["样例市妇幼保健院", "挂号凭条", "患者: 模**丙"]
    assert "挂号费                    5.00元" in lines
    assert lines[-5:] == ["流水号: REG-0042", "科室: 产科门诊", "医生: 测试医生", "就诊序号: 17", "请妥善保管此凭条"]
    assert not any(line.startswith("银行卡") for line in lines)
