"""Page geometry of the report: A4 sections in portrait or landscape, and the width and
height left for text inside the margins.

A4 for every section because python-docx's default template is US Letter.
"""

from __future__ import annotations

from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.section import Section
from docx.shared import Mm

A4_SHORT, A4_LONG = Mm(210), Mm(297)
EMU_PER_TWIP = 635


def start_page(doc: DocumentObject, *, landscape: bool, first: bool = False) -> Section:
    """Start a section on A4 (the first one is the document's own) and return it."""
    section = doc.sections[-1] if first else doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (A4_LONG, A4_SHORT) if landscape else (A4_SHORT, A4_LONG)
    return section


def text_width_twips(section: Section) -> int:
    """The width between the margins, in twips (what table column widths are given in)."""
    assert section.page_width is not None  # start_page set it
    emu = section.page_width - (section.left_margin or 0) - (section.right_margin or 0)
    return int(emu / EMU_PER_TWIP)


def text_height_emu(section: Section) -> int:
    """The height between the margins, in EMU (what a picture's size is given in)."""
    assert section.page_height is not None  # start_page set it
    return section.page_height - (section.top_margin or 0) - (section.bottom_margin or 0)
