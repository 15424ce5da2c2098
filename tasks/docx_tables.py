"""Report tables through python-docx's table API: ``add_row().cells``, ``cell.text``.

python-docx has no API for a cell's background, a row kept on one page or a header row
repeated on every page, so those three are set as their WordprocessingML elements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from docx.document import Document as DocumentObject
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, Twips
from docx.table import Table, _Cell, _Row
from docx.text.paragraph import Paragraph

from models.report_rules import risk_zone

RAG_FILLS = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE"}
HEADER_FILL = "D9D9D9"
GROUP_FILL = "F2F2F2"
TABLE_FONT = Pt(8)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: text, optional background fill (hex RGB), bold."""

    text: str
    fill: str | None = None
    bold: bool = False


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A full-width row that titles the rows below it (e.g. one owner's tasks)."""

    text: str


Row = Sequence["str | Cell"] | GroupRow


def first_rows(rows: list[Row], limit: int) -> list[Row]:
    """The rows up to the ``limit``-th data row, or all of them when there are no more.

    ``GroupRow``s do not count towards the limit; a group row left without data rows at
    the cut is dropped."""
    shown: list[Row] = []
    seen = 0
    for row in rows:
        seen += not isinstance(row, GroupRow)
        if seen > limit:
            break
        shown.append(row)
    while shown and isinstance(shown[-1], GroupRow):
        shown.pop()
    return shown


def add_table(
    doc: DocumentObject,
    weights: Sequence[float],
    rows: Sequence[Row],
    header: Sequence[str] | None,
    usable_twips: int,
) -> Table:
    """Append a table to the body; column widths are ``weights`` scaled to the text width."""
    scale = usable_twips / sum(weights)
    table = doc.add_table(rows=0, cols=len(weights))
    # The style's id set directly: ``table.style = ...`` first compares it with the default table
    # style, 2.4 ms a table in python-docx, most of the portfolio report's 600 tables' layout.
    table._tbl.tblStyle_val = doc.styles["Table Grid"].style_id
    table.autofit = False  # fixed layout: Word honours the widths and lays out faster
    for column, weight in zip(table.columns, weights, strict=True):
        column.width = Twips(int(weight * scale))
    if header is not None:
        row = _add_row(table, [Cell(text, HEADER_FILL, True) for text in header])
        _row_property(row, "w:tblHeader")  # repeated on every page the table runs over
    for values in rows:
        if isinstance(values, GroupRow):
            cells = table.add_row().cells
            merged = cells[0].merge(cells[-1])
            _write(merged, Cell(values.text, GROUP_FILL, True)).paragraph_format.keep_with_next = True
            _row_property(table.rows[-1], "w:cantSplit")
        else:
            _add_row(table, [v if isinstance(v, Cell) else Cell(v) for v in values])
    return table


def add_heatmap(doc: DocumentObject, grid: list[list[int]], corner: str, usable_twips: int) -> Table:
    """The probability × impact matrix (``grid[p - 1][i - 1]`` risks), probability 5 on top,
    impact 1 to 5 from the left, each cell in its risk zone's colour (``risk_zone``)."""
    rows: list[Row] = [
        [Cell(str(p), HEADER_FILL, True)]
        + [Cell(str(n or ""), RAG_FILLS[risk_zone(p * i)], bool(n)) for i, n in enumerate(grid[p - 1], 1)]
        for p in range(5, 0, -1)
    ]
    return add_table(doc, (3, 1, 1, 1, 1, 1), rows, [corner, "1", "2", "3", "4", "5"], usable_twips)


def _add_row(table: Table, values: list[Cell]) -> _Row:
    row = table.add_row()
    for cell, value in zip(row.cells, values, strict=False):
        _write(cell, value)
    # A row is never broken across pages: half a task on each page read badly.
    _row_property(row, "w:cantSplit")
    return row


def _write(cell: _Cell, value: Cell) -> Paragraph:
    cell.text = _XML_ILLEGAL.sub("", value.text)
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = Pt(0)
    if paragraph.runs:
        paragraph.runs[0].font.size = TABLE_FONT
        paragraph.runs[0].bold = value.bold or None
    if value.fill:
        shading = OxmlElement("w:shd", {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): value.fill})
        cell._tc.get_or_add_tcPr().append(shading)
    return paragraph


def _row_property(row: _Row, tag: str) -> None:
    row._tr.get_or_add_trPr().append(OxmlElement(tag))
