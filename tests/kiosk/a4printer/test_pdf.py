from __future__ import annotations

import subprocess
from pathlib import Path

from kiosk.a4printer.pdf import CID_FALLBACK_FONT, EMBEDDED_FONT_NAME, make_test_page, render_report


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True,
                          timeout=30).stdout.decode()


def test_test_page_is_a4_with_extractable_chinese(tmp_path: Path) -> None:
    pdf = make_test_page()
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, timeout=30).stdout.decode()
    assert "595.276 x 841.89 pts (A4)" in info
    assert "孕产妇建档报告" in pdf_text(pdf, tmp_path)
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, timeout=30).stdout.decode()
    assert "WenQuanYi" in fonts or EMBEDDED_FONT_NAME in fonts  # the TrueType CJK font is embedded


def test_cid_fallback_without_truetype_fonts(tmp_path: Path) -> None:
    from reportlab.pdfbase import pdfmetrics

    registered = pdfmetrics._fonts.pop(EMBEDDED_FONT_NAME, None)  # as on a machine without the font
    try:
        pdf = render_report("检查报告", [("姓名", "测试用户")], fonts=[tmp_path / "missing.ttc"])
    finally:
        if registered is not None:
            pdfmetrics._fonts[EMBEDDED_FONT_NAME] = registered
    assert CID_FALLBACK_FONT.encode() in pdf
    assert "检查报告" in pdf_text(pdf, tmp_path)


def test_long_reports_flow_onto_more_pages(tmp_path: Path) -> None:
    pdf = render_report("随访记录", [(f"第{i}次", "正常") for i in range(80)])
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, timeout=30).stdout.decode()
    assert "Pages:           3" in info  # 80 rows at 19.2 pt on 257 mm of text height
