"""Small A4 PDFs with Chinese text (reportlab): test pages and simple reports.

reportlab embeds TrueType outlines only; the Noto CJK fonts are CFF (PostScript outlines), so a
TrueType CJK font is looked for first (WenQuanYi Micro Hei, Debian ``fonts-wqy-microhei``) and the
Adobe CID font STSong-Light (not embedded: the viewer or printer supplies it) is the fallback.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas

from kiosk.a4printer.errors import A4PrinterError

TRUETYPE_CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
EMBEDDED_FONT_NAME = "KioskCJK"
CID_FALLBACK_FONT = "STSong-Light"
MARGIN = 20 * mm
TITLE_PT = 18
BODY_PT = 12
LINE_GAP = 1.6


def cjk_font(candidates: Sequence[Path] = TRUETYPE_CJK_FONTS) -> str:
    """Register and return the name of a font that can draw Simplified Chinese."""
    if EMBEDDED_FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return EMBEDDED_FONT_NAME
    for path in candidates:
        if path.is_file():
            try:
                pdfmetrics.registerFont(TTFont(EMBEDDED_FONT_NAME, str(path), subfontIndex=0))
                return EMBEDDED_FONT_NAME
            except TTFError:
                continue
    if CID_FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK_FONT))
    return CID_FALLBACK_FONT


def render_report(title: str, rows: Sequence[tuple[str, str]], *, footer: str = "",
                  fonts: Sequence[Path] = TRUETYPE_CJK_FONTS) -> bytes:
    """One A4 page: a title and label/value rows. Returns the PDF bytes."""
    font = cjk_font(fonts)
    buf = io.BytesIO()
    try:
        pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
        pdf.setTitle(title)
        width, height = A4
        y = height - MARGIN - TITLE_PT
        pdf.setFont(font, TITLE_PT)
        pdf.drawCentredString(width / 2, y, title)
        y -= TITLE_PT * 2
        pdf.setFont(font, BODY_PT)
        for label, value in rows:
            if y < MARGIN:
                pdf.showPage()
                pdf.setFont(font, BODY_PT)
                y = height - MARGIN
            pdf.drawString(MARGIN, y, f"{label}：{value}")
            y -= BODY_PT * LINE_GAP
        if footer:
            pdf.drawString(MARGIN, MARGIN / 2, footer)
        pdf.save()
    except (ValueError, KeyError) as exc:
        raise A4PrinterError(f"cannot render the report: {exc}") from exc
    return buf.getvalue()


def make_test_page() -> bytes:
    """The kiosk's A4 test page (synthetic content only)."""
    return render_report("自助终端 A4 打印测试页", [
        ("终端", "kiosk-test"), ("内容", "孕产妇建档报告（测试）"), ("说明", "本页仅用于检查打印机与中文字体"),
    ], footer="Maternal-child health kiosk test page")
