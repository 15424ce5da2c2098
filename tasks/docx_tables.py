"""Fast tables for python-docx: one prepared ``w:tr`` per row shape, deep-copied per row.

python-docx's ``table.cell(i, j)`` is quadratic (minutes for 1,000 rows) and
``add_row().cells`` costs ~0.5 ms a row of 9 cells; a large roadmap's report lists
thousands of rows once the appendix is counted (the 10,000-task report target, < 10 s,
in ``bench/bench_report.py``). ``bench/bench_report_render.py`` measures the options.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from docx.document import Document as DocumentObject
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.table import Table

HEADER_FILL = "D9D9D9"
GROUP_FILL = "F2F2F2"
TABLE_FONT_HALF_POINTS = 18  # 9 pt
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
_PLAIN = (None, False)  # (fill, bold) of a plain-text cell


def cell_xml(
    text: str, width: int, fill: str | None, bold: bool, span: int = 1, keep_next: bool = False
) -> str:
    """One ``<w:tc>`` (namespace prefix ``w:`` unbound): width, optional fill, 9 pt run;
    ``keep_next`` keeps the row on the page of the next one (a group title row)."""
    props = f'<w:tcW w:w="{width}" w:type="dxa"/>'
    if span > 1:
        props += f'<w:gridSpan w:val="{span}"/>'
    if fill:
        props += f'<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>'
    rpr = f'{"<w:b/>" if bold else ""}<w:sz w:val="{TABLE_FONT_HALF_POINTS}"/>'
    return (
        f'<w:tc><w:tcPr>{props}</w:tcPr>'
        f'<w:p><w:pPr>{"<w:keepNext/>" if keep_next else ""}'
        f'<w:spacing w:before="0" w:after="0"/></w:pPr>'
        f'<w:r><w:rPr>{rpr}</w:rPr><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
        f"</w:p></w:tc>"
    )


def _parse_tr(cells: str, header: bool = False) -> BaseOxmlElement:
    # cantSplit: a row is never broken across pages (half a task on each page read badly);
    # tblHeader: the header row is repeated on every page the table runs over.
    trpr = f"<w:trPr><w:cantSplit/>{'<w:tblHeader/>' if header else ''}</w:trPr>"
    return parse_xml(f"<w:tbl {nsdecls('w')}><w:tr>{trpr}{cells}</w:tr></w:tbl>")[0]


def append_rows(tbl: BaseOxmlElement, widths: Sequence[int], rows: Sequence[Row]) -> None:
    """Append ``rows`` to the ``w:tbl`` element by deep-copying one prepared row per shape.

    The shape of a row is its cells' (fill, bold) pairs; a table has only a handful, so
    almost every row is one ``deepcopy`` of a prepared ``w:tr`` plus setting the text of its
    ``w:t`` elements. Measured (bench/bench_report_render.py): ~2.5x faster than parsing one
    XML string per table, ~10x faster than ``add_row().cells``.
    """
    protos: dict[tuple, BaseOxmlElement] = {}
    t_tag = qn("w:t")
    total = sum(widths)
    for row in rows:
        if isinstance(row, GroupRow):
            shape: tuple = ("group",)
            texts: list[str] = [row.text]
        else:
            shape = tuple((v.fill, v.bold) if isinstance(v, Cell) else _PLAIN for v in row)
            texts = [v.text if isinstance(v, Cell) else v for v in row]
        proto = protos.get(shape)
        if proto is None:
            if shape == ("group",):
                xml = cell_xml("", total, GROUP_FILL, True, len(widths), keep_next=True)
            else:
                xml = "".join(cell_xml("", w, f, b) for w, (f, b) in zip(widths, shape))
            proto = protos[shape] = _parse_tr(xml)
        tr = copy.deepcopy(proto)
        for t, text in zip(tr.iter(t_tag), texts):
            t.text = _XML_ILLEGAL.sub("", text)
        tbl.append(tr)


def add_fast_table(
    doc: DocumentObject,
    weights: Sequence[float],
    rows: Sequence[Row],
    header: Sequence[str] | None,
    usable_twips: int,
) -> Table:
    """Append a table to the body; column widths are ``weights`` scaled to the text width."""
    scale = usable_twips / sum(weights)
    widths = [int(w * scale) for w in weights]
    table = doc.add_table(rows=0, cols=len(widths))
    table.style = doc.styles["Table Grid"]
    table.autofit = False  # fixed layout: Word honours the widths and lays out faster
    for grid_col, width in zip(table._tbl.tblGrid.gridCol_lst, widths):
        grid_col.set(qn("w:w"), str(width))
    if header is not None:
        table._tbl.append(_parse_tr(
            "".join(cell_xml(h, w, HEADER_FILL, True) for h, w in zip(header, widths)),
            header=True,
        ))
    append_rows(table._tbl, widths, rows)
    return table
