"""Open an .xlsx workbook safely and give its sheets as plain rows, with what the values alone
do not tell: which cells hold formulas, and which are merged.

1. The bytes are refused before any XML is parsed when they are not a workbook to read: an
   encrypted (password-protected) workbook or an old .xls (both OLE compound files),
   anything that is not a zip archive, or a zip that would unpack to more than
   MAX_UNPACKED_BYTES or hold more than MAX_MEMBERS parts (a zip bomb).
2. python-calamine (Rust) reads the values: a 10,000-task workbook in 0.2 s where openpyxl's
   read-only mode takes 1 to 3 s (bench/bench_xlsx.py). Dates come back as dates, numbers
   as floats, empty cells as "". It also gives the merged ranges.
3. calamine gives a formula's cached result, not the formula: the formulas are found in the
   sheet's XML (its ``<f>`` elements), so that a formula where a value is expected is
   refused rather than taken for the value it happened to show.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from models.problems import Problem, RoadmapInvalid

# A 10,000-task workbook unpacks to 6.3 MB: the limit leaves ten times that, and keeps a zip
# bomb (a few KB that unpack to gigabytes) from being unpacked, and calamine, which holds a
# sheet's cells in memory, within a few hundred MB.
MAX_UNPACKED_BYTES = 64 << 20
MAX_MEMBERS = 10_000
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
SAVE_AS = "save it as an Excel workbook (.xlsx)"
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
# A cell of type "e": an error value (#N/A, #REF!...), which calamine reads as an empty cell.
_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\s(?=[^>]*\bt="e")[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]*>'
                         rb'\s*(?:<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>)?')
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.DOTALL)
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class WorkbookRefused(RoadmapInvalid):
    pass


def refused(file: str, message: str) -> WorkbookRefused:
    return WorkbookRefused([Problem(1, "(file)", message, "error", file)])


def column_number(letters: str) -> int:
    return sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(letters)))


@dataclass
class SheetData:
    name: str
    rows: list[list[Any]]  # from A1: row 1 is rows[0]; "" for an empty cell
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) from 1 -> "=A1+1"; an error: "#N/A"
    merged: list[str] = field(default_factory=list)  # "B2:C2"


class Workbook:
    def __init__(self, file: str, data: bytes) -> None:
        self.file = file
        self._archive = zipfile.ZipFile(io.BytesIO(data))
        self._calamine = _calamine(file, data)
        self.sheet_names: list[str] = list(self._calamine.sheet_names)
        self._parts = _sheet_parts(self._archive)

    def sheet(self, name: str, max_rows: int, max_columns: int) -> SheetData:
        """The values of sheet ``name``, its formulas and merged ranges; WorkbookRefused when its
        used area is more than ``max_rows`` rows or ``max_columns`` columns."""
        try:
            ws = self._calamine.get_sheet_by_name(name)
            last_row, last_col = ws.end or (0, 0)
            if last_row >= max_rows or last_col >= max_columns:
                # Rows are as wide as the sheet's used area: one stray cell in column XFD would make
                # every row 16,384 cells.
                corner = _ref((last_row, last_col))
                raise refused(self.file, f"sheet {name!r} is used as far as column {corner.rstrip('0123456789')}, "
                              f"row {last_row + 1:,}: a roadmap sheet has at most {max_columns} columns and "
                              f"{max_rows:,} rows; delete what lies beyond")
            rows = ws.to_python(skip_empty_area=False)
            merged = [f"{_ref(a)}:{_ref(b)}" for a, b in (ws.merged_cell_ranges or [])]
        except WorkbookRefused:
            raise
        except Exception as exc:  # calamine's errors are its own types, one per part it reads
            raise refused(self.file, f"sheet {name!r} cannot be read ({_why(exc)}): the workbook is damaged; "
                          f"{SAVE_AS} again") from None
        return SheetData(name, rows, self._formulas(name), merged)

    def _formulas(self, name: str) -> dict[tuple[int, int], str]:
        part = self._parts.get(name)
        if part is None:
            return {}
        xml = self._archive.read(part)  # its size was checked against MAX_UNPACKED_BYTES
        found = {}
        for match in _FORMULA.finditer(xml):
            opened = list(_CELL.finditer(xml, max(0, match.start() - 2000), match.start()))
            cell = opened[-1] if opened else None  # the last cell opened before the formula is its own
            where = (int(cell.group(2)), column_number(cell.group(1).decode())) if cell else (1, 1)
            text = _FORMULA_TEXT.match(xml, match.start())
            found[where] = "=" + ((text.group(1) or b"").decode("utf-8", "replace") if text else "")
        for cell in _ERROR_CELL.finditer(xml):  # an error typed or pasted as a value, not a formula's
            where = (int(cell.group(2)), column_number(cell.group(1).decode()))
            if where not in found:
                found[where] = (cell.group(3) or b"#ERROR").decode("utf-8", "replace")  # "#N/A": no "=" first
        return found


def cell_name(row: int, col: int) -> str:
    """ "E12" for row 12, column 5 (both from 1)."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


def _ref(corner: tuple[int, int]) -> str:  # calamine's corners count from 0
    return cell_name(corner[0] + 1, corner[1] + 1)


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def open_workbook(file: str, data: bytes) -> Workbook:
    """The workbook in ``data``, or WorkbookRefused saying what it is and what to do."""
    if data.startswith(_OLE):
        if _ENCRYPTED in data:
            raise refused(file, "the workbook is protected by a password: open it, remove the password "
                          f"(it encrypts the file) and {SAVE_AS}")
        raise refused(file, f"this is an old Excel 97-2003 workbook (.xls), not .xlsx: open it and {SAVE_AS}")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise refused(file, "the file is not an Excel workbook (an .xlsx file is a zip archive): it is damaged "
                      f"or of another kind; {SAVE_AS}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise refused(file, f"the workbook is damaged ({_why(exc)}); {SAVE_AS} again") from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
        raise refused(file, f"the workbook unpacks to {unpacked / (1 << 20):,.0f} MB in {len(members):,} parts; "
                      f"workbooks are limited to {MAX_UNPACKED_BYTES >> 20} MB and {MAX_MEMBERS:,} parts")
    try:
        return Workbook(file, data)
    except WorkbookRefused:
        raise
    except Exception as exc:  # zipfile, XML and calamine errors alike: the file is not what it says
        raise refused(file, f"the workbook cannot be read ({_why(exc)}): it is damaged; {SAVE_AS} again") from None


def _calamine(file: str, data: bytes) -> Any:
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_filelike(io.BytesIO(data))


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip part of its XML, from the workbook's relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        raise ValueError("it has no xl/workbook.xml")
    rels = {}
    if "xl/_rels/workbook.xml.rels" in names:
        for rel in ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels")):
            target = rel.get("Target", "")
            rels[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    out = {}
    for el in ElementTree.fromstring(archive.read("xl/workbook.xml")).iter():
        if el.tag.endswith("}sheet") and el.get("name") is not None:
            part = rels.get(el.get(_REL))
            if part in names:
                out[el.get("name", "")] = part
    return out
