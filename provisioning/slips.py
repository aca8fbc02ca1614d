"""Custodian slips of a key ceremony: one A5 PDF per custodian, Simplified Chinese first.

A slip carries the custodian's name and number, slot, algorithm, their component's KCV and the
combined KCV, with a line to sign. It never carries a component.
"""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas

from provisioning.ceremony import CeremonyError, CeremonyRecord, Custodian
from provisioning.files import make_dir, write_public

CJK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
             Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"))
FONT = "ProvisionCJK"
MARGIN = 15 * mm


def _font() -> str:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    for path in CJK_FONTS:
        if path.is_file():
            try:
                pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
                return FONT
            except TTFError:
                continue
    raise CeremonyError("no CJK font for the custodian slips: install fonts-wqy-microhei (scripts/apt)")


def slip_pdf(record: CeremonyRecord, custodian: Custodian) -> bytes:
    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A5, invariant=True)
    pdf.setTitle(f"ceremony {record.ceremony_id} custodian {custodian.number}")
    width, height = A5
    y = height - MARGIN - 8 * mm
    pdf.setFont(font, 16)
    pdf.drawString(MARGIN, y, "密码键盘主密钥分量 · 保管员签收单")
    y -= 7 * mm
    pdf.setFont(font, 10)
    pdf.drawString(MARGIN, y, "PIN-pad master-key component: custodian slip")
    rows = (("仪式编号 Ceremony", record.ceremony_id), ("时间 Time (UTC)", record.at),
            ("保管员 Custodian", f"{custodian.number} / {len(record.custodians)}  {custodian.name}"),
            ("主密钥槽位 Slot", f"{record.slot:02X}"), ("算法 Algorithm", record.algorithm.name),
            ("本分量校验值 Component KCV", custodian.component_kcv),
            ("合成密钥校验值 Combined KCV", record.combined_kcv))
    y -= 12 * mm
    for label, value in rows:
        pdf.setFont(font, 11)
        pdf.drawString(MARGIN, y, label)
        pdf.setFont(font, 14)
        pdf.drawString(MARGIN + 62 * mm, y, value)
        y -= 9 * mm
    pdf.setFont(font, 9)
    for line in ("分量本身不在此单上：请抄写在您的密封分量单上，切勿与他人分量放在一起。",
                 "The component is not on this slip: keep it on your sealed form, apart from the others.",
                 "装载后请核对密码键盘显示的合成校验值与本单一致。",
                 "After loading, check the pad's combined KCV against this slip."):
        y -= 5 * mm
        pdf.drawString(MARGIN, y, line)
    y -= 18 * mm
    pdf.setFont(font, 11)
    pdf.drawString(MARGIN, y, "签名 Signature: ____________________    日期 Date: __________")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def write_slip(record: CeremonyRecord, custodian: Custodian, slips_dir: Path) -> Path:
    make_dir(slips_dir)
    path = slips_dir / f"ceremony-{record.ceremony_id}-custodian-{custodian.number}.pdf"
    return write_public(path, slip_pdf(record, custodian), exclusive=True)
