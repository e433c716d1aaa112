"""Compliance documents as tables: one shape for the screen, the CSV file and the PDF file.

A document is a list of :class:`Section`, each a titled table of already translated, already formatted strings.
Builders (the record of processing, a call's evidence bundle) decide what to say; this module only lays it out, so
that the three renderings cannot disagree. The PDF is drawn with reportlab's platypus in its standard fonts
(Helvetica, Courier: Latin-1, enough for French and English).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_DIGEST = re.compile(r"^[0-9a-f]{40,}$")


@dataclass(frozen=True)
class Section:
    """A titled table. Two columns read as "item: value"; more columns are a table whose first cell names the row."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""
    widths: tuple[float, ...] | None = None  # shares of the page width, for a PDF table that needs its own


def csv_safe(value) -> str:
    """Return the text with a leading quote when a spreadsheet would run it as a formula (CSV injection)."""
    value = str(value)  # labels from model choices are lazy translations
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def section_lines(section: Section) -> list[tuple[str, str]]:
    """Return the section as (item, value) pairs; the other columns of a wide table join into the value."""
    if len(section.columns) <= 2:
        return [(row[0], row[1] if len(row) > 1 else "") for row in section.rows]
    return [(row[0], "; ".join(f"{name}: {cell}" for name, cell in zip(section.columns[1:], row[1:], strict=True)))
            for row in section.rows]


def document_csv(sections: list[Section], *, header: tuple[str, str, str]) -> str:
    """Return the CSV text (with a BOM, for Excel): one line per item, as section, item, value."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(cell) for cell in header])
    for section in sections:
        for item, value in section_lines(section):
            writer.writerow([csv_safe(section.title), csv_safe(item), csv_safe(value)])
    return buffer.getvalue()


def pdf_styles() -> dict[str, ParagraphStyle]:
    sheet = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=sheet["BodyText"], fontSize=8, leading=10)
    return {
        "title": sheet["Title"],
        "subtitle": ParagraphStyle("subtitle", parent=sheet["BodyText"], textColor=colors.HexColor("#555555")),
        "heading": sheet["Heading2"],
        "note": ParagraphStyle("note", parent=cell, textColor=colors.HexColor("#555555")),
        "cell": cell,
        "head": ParagraphStyle("head", parent=cell, fontName="Helvetica-Bold"),
        # Digests have no spaces to break at: a fixed-width font, broken anywhere.
        "digest": ParagraphStyle("digest", parent=cell, fontName="Courier", fontSize=7, wordWrap="CJK"),
    }


def pdf_cell(text, styles: dict[str, ParagraphStyle], style: str = "cell") -> Paragraph:
    """A table cell; the text is escaped (Paragraph reads markup) and digests get the fixed-width style."""
    text = str(text)  # labels from model choices are lazy translations
    if style == "cell" and _DIGEST.match(text):
        style = "digest"
    return Paragraph(escape(text).replace("\n", "<br/>"), styles[style])


def _widths(section: Section, total: float) -> list[float]:
    """Item/value tables give the value the room; wider tables share it, the first column a little more."""
    columns = len(section.columns)
    if section.widths:
        return [total * share for share in section.widths]
    if columns == 2:
        return [total * 0.34, total * 0.66]
    first = total * 0.22
    return [first] + [(total - first) / (columns - 1)] * (columns - 1)


def pdf_table(section: Section, styles: dict[str, ParagraphStyle], width: float) -> Table:
    data = [[pdf_cell(name, styles, "head") for name in section.columns]]
    data += [[pdf_cell(value, styles) for value in row] for row in section.rows]
    table = Table(data, colWidths=_widths(section, width), repeatRows=1)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8ced6")),
    ]))
    return table


def document_pdf(sections: list[Section], *, title: str, subtitle: list[str], empty: str,
                 pagesize: tuple[float, float] = A4) -> bytes:
    """Return the PDF: the title, subtitle lines, then each section's heading, table (or ``empty``) and note."""
    styles = pdf_styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=pagesize, title=title, author="CALLKOM", leftMargin=15 * mm,
                                 rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story = [pdf_cell(title, styles, "title")]
    story += [pdf_cell(line, styles, "subtitle") for line in subtitle]
    for section in sections:
        story.append(pdf_cell(section.title, styles, "heading"))
        story.append(pdf_table(section, styles, document.width) if section.rows else pdf_cell(empty, styles, "note"))
        if section.note:
            story += [Spacer(1, 2 * mm), pdf_cell(section.note, styles, "note")]
    document.build(story)
    return buffer.getvalue()
