"""The .docx package of the report: the base document (python-docx's default or the user's
reference document), its core properties, and saving it byte for byte reproducibly.

- A reference document gives the branding: its styles, header, footer and logo are kept,
  its body is replaced. The styles the report uses are linted first (``missing_styles``),
  as Ghostwriter does for templates; a file that is not a .docx is a clear user error.
- Deterministic: core properties and the zip entries' timestamps come from the report's
  ``generated_at``, so the same context gives the same bytes.
- Saved atomically: a temporary file in the same folder, then a rename; only over a regular
  file (models/file_paths.py).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt

from models.errors import UserError
from models.file_paths import write_replacing

REQUIRED_STYLES = ("Normal", "Title", "Heading 1", "Heading 2", "Table Grid", "List Number")
DEFAULT_MARGIN = Mm(15)
LANG_TAG = {"ru": "ru-RU", "en": "en-GB"}


def missing_styles(document: DocumentObject) -> list[str]:
    """Names of the styles this report needs that ``document`` does not define."""
    return [name for name in REQUIRED_STYLES if name not in document.styles]


def open_base(reference_docx: Path | None, lang: str) -> DocumentObject:
    """An empty document to write the report into, with ``lang`` as its spelling language:
    the reference document emptied (its final section keeps header, footer and margins), or
    python-docx's default with plain Calibri 10 pt and 15 mm margins."""
    if reference_docx is None:
        doc = Document()
        font = doc.styles["Normal"].font
        font.name, font.size = "Calibri", Pt(10)
        section = doc.sections[0]
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, DEFAULT_MARGIN)
    else:
        try:
            doc = Document(str(reference_docx))
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise UserError(
                f"report template {reference_docx} (ROADMAP_REPORT_TEMPLATE) is not a Word .docx document: "
                f"{type(exc).__name__}"
            ) from None
        if missing := missing_styles(doc):
            raise UserError(
                f"reference document {reference_docx} lacks the styles {', '.join(missing)}; "
                "add them (use each once in Word and save) or choose another reference"
            )
        doc.element.body.clear_content()  # keeps the final sectPr: header, footer, margins
    # spell-checking language of the report
    rpr = doc.styles["Normal"].element.get_or_add_rPr()
    for old in rpr.findall(qn("w:lang")):
        rpr.remove(old)
    rpr.append(parse_xml(f'<w:lang {nsdecls("w")} w:val="{LANG_TAG[lang]}"/>'))
    return doc


def set_properties(
    doc: DocumentObject, *, title: str, subject: str, identifier: str, lang: str, generated_at: dt.datetime
) -> None:
    """Core properties fixed by the report itself (no current time, no user name)."""
    props = doc.core_properties
    props.title, props.subject, props.identifier = title, subject, identifier
    props.author = props.last_modified_by = "Roadmap Office"
    props.language = LANG_TAG[lang]
    props.created = props.modified = utc_naive(generated_at)
    props.revision = 1


def save_docx(doc: DocumentObject, out_path: Path, generated_at: dt.datetime) -> Path:
    buffer = io.BytesIO()
    doc.save(buffer)
    data = _fixed_zip_times(buffer.getvalue(), utc_naive(generated_at))
    return write_replacing(out_path, data, "report", new_folder_ok=True)


def _fixed_zip_times(data: bytes, when: dt.datetime) -> bytes:
    """python-docx stamps every zip entry with the current time; use ``when`` instead."""
    stamp = max(when, dt.datetime(1980, 1, 1)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
