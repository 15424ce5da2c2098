"""Page geometry of the report: A4 sections in portrait or landscape, the width and height
left for text inside the margins, and the running header and the page-numbered footer.

A4 for every section because python-docx's default template is US Letter.
"""

from __future__ import annotations

from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.section import Section
from docx.shared import Mm
from docx.text.paragraph import Paragraph

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


def header_and_footer(doc: DocumentObject, header: str, page_of: str) -> None:
    """The running header (``header``: the roadmap's title and period) and a footer "page N
    of M" (``page_of`` with ``{page}`` and ``{pages}``, filled by Word's PAGE and NUMPAGES
    fields, so the numbers are right however the document is laid out). Set on the first
    section; the later ones link to it. A reference document's own header or footer, when it
    has text, is kept."""
    section = doc.sections[0]
    if not any(p.text.strip() for p in section.header.paragraphs):
        paragraph = section.header.paragraphs[0]
        paragraph.text = header
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _small(paragraph)
    if not any(p.text.strip() for p in section.footer.paragraphs) and not _has_fields(section.footer):
        paragraph = section.footer.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        before, _, rest = page_of.partition("{page}")
        middle, _, after = rest.partition("{pages}")
        paragraph.add_run(before)
        _field(paragraph, "PAGE")
        paragraph.add_run(middle)
        _field(paragraph, "NUMPAGES")
        paragraph.add_run(after)
        _small(paragraph)
    for later in doc.sections[1:]:
        later.header.is_linked_to_previous = later.footer.is_linked_to_previous = True


def _field(paragraph: Paragraph, code: str) -> None:
    """A simple field (``w:fldSimple``) whose result Word and LibreOffice compute on layout;
    "1" stands in until then."""
    field = OxmlElement("w:fldSimple", {qn("w:instr"): f" {code} \\* MERGEFORMAT "})
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _has_fields(part) -> bool:
    return bool(part._element.findall(".//" + qn("w:fldSimple")) or part._element.findall(".//" + qn("w:fldChar")))


def _small(paragraph: Paragraph) -> None:
    """8 pt for every run, the fields' too (python-docx's ``paragraph.runs`` skips those)."""
    for run in paragraph._p.iter(qn("w:r")):
        rpr = run.get_or_add_rPr()
        if rpr.find(qn("w:sz")) is None:
            rpr.append(OxmlElement("w:sz", {qn("w:val"): "16"}))
