"""Read a roadmap workbook (.xlsx) into the plain document a YAML file gives, then check it
with the loader's own checks (models/loader.py), each problem at its cell:
``plan.xlsx:Задачи!E12: owner: unknown person 'bobb' (did you mean 'bob'?)``.

1. The file is read like a YAML file (a regular file, at most MAX_FILE_BYTES) and opened by
   models/workbook_file.py: refused when it is no workbook to read (encrypted, an old .xls,
   damaged, a zip bomb); its values read by python-calamine, its formulas and merged cells
   found beside them.
2. Each sheet of the layout (models/workbook_layout.py) must be there with every editable
   column, known by its header in any language. A row becomes an item, a cell a value:
   empty cells are left out (the defaults apply), dates stay dates, expressions text,
   lists are split, statuses read in either language. Computed columns are ignored.
3. models/loader.check_document checks the document; CellReader places each problem.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from models.i18n import LANGUAGES
from models.loader import LoadedRoadmap, check_document, read_roadmap_bytes
from models.problems import Problem, RoadmapInvalid, did_you_mean
from models.roadmap_yaml import Path_, Reader, Unreadable, render_path
from models.workbook_file import SheetData, Workbook, cell_name, column_number, open_workbook
from models.workbook_layout import EXPORTED_SHEET, FIELD, SHEETS, Column, Sheet, choice_values, names, word

MAX_ROWS = 100_000  # rows of one sheet (a 10,000-task roadmap has 10,001)
MAX_COLUMNS = 64  # the widest sheet (tasks) has 19
_LIST_SPLIT = re.compile(r"[,;\s]+")


class CellReader(Reader):
    """A Reader whose places are cells: ``Задачи!E12`` instead of a line."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        # path -> (sheet no., row, column, sheet title); the "Задачи!E12" is made when a problem needs it
        self.cells: dict[Path_, tuple[int, int, int, str]] = {}

    def locate(self, path: Path_, sheet_no: int, title: str, row: int, col: int) -> None:
        self.cells[path] = (sheet_no, row, col, title)

    def _cell(self, path: Path_) -> tuple[int, int, int, str]:
        while path and path not in self.cells:
            path = path[:-1]
        return self.cells.get(path, (0, 1, 1, ""))

    def line_of(self, path: Path_) -> int:
        return _order(*self._cell(path)[:3])

    def place(self, path: Path_) -> str:
        _, row, col, title = self._cell(path)
        return f"{_quoted_title(title)}!{cell_name(row, col)}" if title else "(workbook)"

    def missing(self, path: Path_) -> None:
        """At the empty cell itself: every cell of a row's columns is located, empty or not."""
        if path in self.cells:
            self.problem(path, "a value is required here")
        else:
            super().missing(path)

    def problem(self, path: Path_, message: str, severity: str = "error", line: int | None = None) -> None:
        if path in self.unreadable:
            return
        self.problems.append(Problem(self.line_of(path), self._render(path), message, severity, self.file,
                                     self.place(path)))

    def _render(self, path: Path_) -> str:
        """The column's key (``owner``); a whole row as ``tasks[t12]``; a mapping's key in full."""
        part = next((s for s in SHEETS if s.part == (path[0] if path else None)), None)
        if part is None or part.fields or len(path) < 3:
            return render_path(path, self.data)
        return ".".join(str(p) for p in path[2:] if not isinstance(p, int)) or render_path(path, self.data)


def _quoted_title(title: str) -> str:
    return title if re.fullmatch(r"\w+", title) else "'" + title.replace("'", "''") + "'"


def _order(sheet_no: int, row: int, col: int) -> int:
    """A problem's ``line``: problems are listed sheet by sheet, row by row."""
    return sheet_no * 100_000_000 + row * 1_000 + col


def load_workbook_file(path: str | Path) -> LoadedRoadmap:
    """Load and check a roadmap workbook; RoadmapInvalid with every problem found."""
    file = str(path)
    data = read_roadmap_bytes(path)
    r = CellReader(file)
    doc, exported = read_workbook(r, data)
    loaded = check_document(r, doc)
    loaded.exported_state = exported
    return loaded


def read_workbook(r: CellReader, data: bytes) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The plain document of a workbook, every cell's place recorded in ``r``, and the live
    fields as `roadmap export` wrote them (its hidden sheet; empty without one); structural
    problems (a missing sheet or column, an unknown column, merged cells) are raised at once."""
    wb = open_workbook(r.file, data)
    titles = {title.strip().casefold(): title for title in wb.sheet_names}
    structure: list[Problem] = []
    doc: dict[str, Any] = {}
    for no, sheet in enumerate(SHEETS, 1):
        title = next((titles[form] for form in names(sheet, columns=False) if form in titles), None)
        if title is None:
            expected = " or ".join(repr(f) for f in dict.fromkeys(word(sheet.title, lang) for lang in LANGUAGES))
            why = f"missing sheet {expected}: the workbook must have every sheet (roadmap new FILE.xlsx writes one)"
            structure.append(Problem(no, "(sheets)", why, "error", r.file, "(workbook)"))
            continue
        lang = next((lang for lang in LANGUAGES if word(sheet.title, lang).casefold() == title.casefold()), "ru")
        data_ = wb.sheet(title, MAX_ROWS, MAX_COLUMNS)
        doc[sheet.part] = _SheetReader(r, sheet, no, data_, structure, lang).read()
    if structure:
        raise RoadmapInvalid(structure)
    return doc, _exported(wb)


def _exported(wb: Workbook) -> dict[str, dict[str, Any]]:
    """The hidden sheet's rows (models/importer.exported_state); a row that is not what the export
    wrote is left out: that item's fields then compare with the last import, as for any file."""
    if EXPORTED_SHEET not in wb.sheet_names:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in wb.sheet(EXPORTED_SHEET, MAX_ROWS, MAX_COLUMNS).rows:
        if len(row) >= 2 and isinstance(row[0], str) and isinstance(row[1], str):
            with contextlib.suppress(ValueError):
                values = json.loads(row[1])
                if isinstance(values, dict):
                    out[row[0]] = values
    return out


class _SheetReader:
    def __init__(self, r: CellReader, sheet: Sheet, no: int, data: SheetData, structure: list[Problem],
                 lang: str) -> None:
        self.r, self.sheet, self.no, self.title, self.structure = r, sheet, no, data.name, structure
        self.data, self.lang = data, lang  # lang: of the sheet's title, for its headers in messages

    def _structural(self, row: int, col: int, path: str, message: str) -> None:
        self.structure.append(Problem(_order(self.no, row, col), path, message, "error", self.r.file,
                                      f"{_quoted_title(self.title)}!{cell_name(row, col)}"))

    def read(self) -> Any:
        for ref in self.data.merged:
            m = re.match(r"([A-Z]+)([0-9]+)", ref)
            assert m is not None
            self._structural(int(m.group(2)), column_number(m.group(1)), "(workbook)",
                             f"merged cells {ref}: unmerge them and give each value its own cell")
        rows = self.data.rows
        return self._fields(rows) if self.sheet.fields else self._table(rows)

    def _columns(self, header: list[Any]) -> dict[int, Column]:
        """Column number -> editable column, from the header row; problems for the rest."""
        known = names(self.sheet)
        editable = {c.key: c for c in self.sheet.columns}
        found: dict[int, Column] = {}
        for col, cell in enumerate(header, 1):
            text = str(cell).strip()
            if not text:
                continue
            key = known.get(text.casefold())
            if key is None:
                hint = did_you_mean(text, [h for h in self._headers()]) or \
                    f" (expected one of: {', '.join(self._headers())})"
                self._structural(1, col, "(header)", f"unknown column {text!r}{hint}")
            elif key in editable:
                if any(c.key == key for c in found.values()):
                    self._structural(1, col, key, f"column {text!r} appears twice")
                found[col] = editable[key]
        free = max((col for col, cell in enumerate(header, 1) if str(cell).strip()), default=0) + 1
        for c in self.sheet.columns:
            if c not in found.values():  # placed where it could go: the first free header cell
                self._structural(1, free, c.key, f"missing column {self._header(c)!r} ({c.key}): "
                                 "every white column of the layout must be there (roadmap new FILE.xlsx writes one)")
        return found

    def _header(self, c: Column) -> str:
        return word(c.header, self.lang)

    def _headers(self) -> list[str]:
        return [self._header(c) for c in self.sheet.columns + self.sheet.computed]

    def _table(self, rows: list[list[Any]]) -> list[dict[str, Any]]:
        part = self.sheet.part
        items: list[dict[str, Any]] = []
        columns: dict[int, Column] | None = None
        for n, row in enumerate(rows, 1):
            if columns is None:
                columns = self._columns(row)
                continue
            item: dict[str, Any] = {}
            i = len(items)
            for col, cell in enumerate(row, 1):
                column = columns.get(col)
                if column is None:
                    continue
                path = (part, i, column.key)
                self.r.locate(path, self.no, self.title, n, col)  # also when empty: "a value is required"
                formula = self.data.formulas.get((n, col))  # a formula without a result reads as ""
                if (cell == "" or cell is None) and formula is None:
                    continue
                value = self._value(cell, formula, column, path)
                if value is not None:
                    item[column.key] = value
            if item:
                self.r.locate((part, i), self.no, self.title, n, 1)
                items.append(item)
        if columns is None:
            self._structural(1, 1, "(header)", "the header row is missing")
        self.r.locate((part,), self.no, self.title, 1, 1)
        return items

    def _fields(self, rows: list[list[Any]]) -> dict[str, Any]:
        part = self.sheet.part
        out: dict[str, Any] = {}
        known = names(self.sheet)
        columns = {c.key: c for c in self.sheet.columns}
        seen: dict[str, int] = {}  # field -> its row
        self.r.locate((part,), self.no, self.title, 1, 1)
        for n, row in enumerate(rows, 1):
            label = str(row[0]).strip() if row else ""
            if not label:
                continue
            key = known.get(label.casefold())
            if n == 1 and label.casefold() in _FIELD_HEADERS:
                continue
            if key is None:
                self._structural(n, 1, "(field)", f"unknown field {label!r}{did_you_mean(label, self._headers())}")
                continue
            if key in seen:  # the last one would silently win, e.g. a second key: another roadmap
                self._structural(n, 1, key, f"field {label!r} appears twice (rows {seen[key]} and {n}): keep one")
                continue
            seen[key] = n
            cell = row[1] if len(row) > 1 else ""
            path = (part, *key.split("."))
            for depth in range(2, len(path) + 1):  # a mapping ("session") is at its first field's row
                if depth == len(path) or path[:depth] not in self.r.cells:
                    self.r.locate(path[:depth], self.no, self.title, n, 2)
            formula = self.data.formulas.get((n, 2))
            if (cell == "" or cell is None) and formula is None:
                continue
            value = self._value(cell, formula, columns[key], path)
            if value is not None:
                node = out
                for step in path[1:-1]:
                    node = node.setdefault(step, {})
                node[path[-1]] = value
        for c in self.sheet.columns:
            if c.key not in seen:
                self._structural(1, 1, c.key, f"missing field {self._header(c)!r} ({c.key}) in column A")
        return out

    def _value(self, value: Any, formula: str | None, column: Column, path: Path_) -> Any:
        """A cell's value for the document; None for an empty one; Unreadable (with a problem
        at the cell) for a formula, a date with a time of day or a time."""
        if formula is not None and not formula.startswith("="):  # an error value: models/workbook_file.py
            return self._unreadable(path, f"an error value ({formula[:20]}) where a value is expected: "
                                    "type the value itself")
        if formula is not None and formula.upper() in _CONSTANTS:
            # LibreOffice saves a true/false cell as the formula =TRUE() (Excel as a value).
            value = _CONSTANTS[formula.upper()]
        elif formula is not None:
            return self._unreadable(path, f"a formula ({formula[:40]}) where a value is expected: "
                                    "type the value itself")
        if not isinstance(value, str | int | float | date):  # a time of day, a duration, an error
            return self._unreadable(path, f"cannot read {str(value)[:40]!r} here: type a plain value")
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
        if isinstance(value, datetime):
            if value.time() != datetime.min.time():
                return self._unreadable(path, f"{value:%Y-%m-%d %H:%M} has a time of day: give a date only")
            value = value.date()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        kind = column.kind
        if kind in ("keys", "texts", "dates", "numbers"):
            return self._list(value, kind)
        if kind == "choice":
            return choice_values(column).get(str(value).casefold(), value)
        if kind in ("text", "note", "key") and isinstance(value, int | float | date) and not isinstance(value, bool):
            return value.isoformat() if isinstance(value, date) else str(value)
        return value

    def _list(self, value: Any, kind: str) -> list[Any]:
        if not isinstance(value, str):
            return [str(value) if kind == "keys" else value]
        if kind == "texts":
            return [line.strip() for line in value.splitlines() if line.strip()]
        parts = [p for p in _LIST_SPLIT.split(value) if p]
        return [int(p) if kind == "numbers" and p.isdigit() else p for p in parts]

    def _unreadable(self, path: Path_, message: str) -> Unreadable:
        self.r.problem(path, message)
        self.r.unreadable.add(path)
        return Unreadable()


_CONSTANTS = {"=TRUE()": True, "=FALSE()": False, "=TRUE": True, "=FALSE": False}
_FIELD_HEADERS = frozenset(word(FIELD, lang).casefold() for lang in LANGUAGES)
