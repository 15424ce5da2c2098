"""Write a roadmap document (models/roadmap_document.py) as a workbook (.xlsx), with XlsxWriter.

The layout is models/workbook_layout.py's: one sheet per part in the roadmap's language, a
frozen header row, column widths, dropdowns for references and statuses, real dates with
date expressions kept as text, and the tasks' computed columns after the editable ones,
greyed and locked (the sheet is protected without a password; its white columns stay
editable, and rows can be added). An instructions sheet explains every column.
XlsxWriter writes a 10,000-task workbook in about a second (bench/bench_xlsx.py).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from models.importer import exported_state
from models.workbook_layout import (
    EXPORTED_SHEET,
    FIELD,
    INSTRUCTION_HEADERS,
    INSTRUCTION_NOTES,
    INSTRUCTIONS,
    SHEETS,
    VALUE,
    Column,
    Sheet,
    choice_word,
    word,
)

_DATE_FORMAT = {"ru": "dd.mm.yyyy", "en": "yyyy-mm-dd"}
# Dropdowns and unlocked cells reach this far below the data, for the rows a user adds.
_SPARE_ROWS = 1_000
_GREY = "#D9D9D9"


class _Formats:
    def __init__(self, wb: Workbook, lang: str) -> None:
        self.header = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                     "valign": "top"})
        self.computed_header = wb.add_format({"bold": True, "bg_color": _GREY, "border": 1, "text_wrap": True,
                                              "valign": "top", "font_color": "#595959"})
        self.text = wb.add_format({"locked": False, "valign": "top"})
        self.wrap = wb.add_format({"locked": False, "valign": "top", "text_wrap": True})
        self.date = wb.add_format({"locked": False, "valign": "top", "num_format": _DATE_FORMAT[lang]})
        self.computed = wb.add_format({"bg_color": _GREY, "font_color": "#595959", "valign": "top"})
        self.computed_date = wb.add_format({"bg_color": _GREY, "font_color": "#595959", "valign": "top",
                                            "num_format": _DATE_FORMAT[lang]})
        self.label = wb.add_format({"bold": True, "valign": "top"})

    def of(self, column: Column, computed: bool = False) -> Any:
        if computed:
            return self.computed_date if column.kind == "date" else self.computed
        if column.kind in ("date", "when"):
            return self.date
        return self.wrap if column.kind in ("note", "texts") else self.text


def workbook_bytes(doc: dict[str, Any], lang: str, computed: dict[str, dict[str, Any]] | None = None) -> bytes:
    """The workbook of ``doc`` in ``lang``; ``computed``: per task key, its computed columns
    (expected, slack, critical, rag, days_late), left empty when None (a new workbook)."""
    out = io.BytesIO()
    # constant_memory would stream rows to disk, but it writes strings inline (no shared
    # table), which doubles the file; in memory a 10,000-task workbook needs ~60 MB.
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    fmt = _Formats(wb, lang)
    titles = {sheet.part: word(sheet.title, lang) for sheet in SHEETS}
    rows = {sheet.part: len(doc.get(sheet.part) or []) for sheet in SHEETS if not sheet.fields}
    for sheet in SHEETS:
        ws = wb.add_worksheet(titles[sheet.part])
        if sheet.fields:
            _fields(ws, sheet, doc.get(sheet.part) or {}, lang, fmt)
        else:
            _table(ws, sheet, doc.get(sheet.part) or [], lang, fmt, computed or {}, titles, rows)
    _instructions(wb.add_worksheet(word(INSTRUCTIONS, lang)), lang, fmt, titles)
    state = exported_state(doc)  # what an export holds of the live fields (none in a new workbook)
    if state:
        _exported(wb.add_worksheet(EXPORTED_SHEET), state)
    wb.close()
    return out.getvalue()


def _cell(ws: Worksheet, row: int, col: int, column: Column, value: Any, lang: str, style: Any) -> None:
    if value is None or value == []:
        return
    if isinstance(value, date) and not isinstance(value, datetime):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), style)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, style)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, style)
    elif isinstance(value, list):
        sep = "\n" if column.kind == "texts" else ", "
        ws.write_string(row, col, sep.join(v.isoformat() if isinstance(v, date) else str(v) for v in value), style)
    elif column.kind == "choice":
        ws.write_string(row, col, choice_word(column, str(value), lang), style)
    else:
        ws.write_string(row, col, str(value), style)


def _table(ws: Worksheet, sheet: Sheet, items: list[dict[str, Any]], lang: str, fmt: _Formats,
           computed: dict[str, dict[str, Any]], titles: dict[str, str], rows: dict[str, int]) -> None:
    columns = sheet.columns + sheet.computed
    last = len(items) + _SPARE_ROWS
    for col, column in enumerate(columns):
        is_computed = column in sheet.computed
        ws.set_column(col, col, column.width, fmt.of(column, is_computed))
        ws.write_string(0, col, word(column.header, lang), fmt.computed_header if is_computed else fmt.header)
        _dropdown(ws, col, column, lang, last, titles, rows)
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, max(len(items), 1), len(columns) - 1)
    styles = [fmt.of(c, c in sheet.computed) for c in columns]
    for r, item in enumerate(items, 1):
        extra = computed.get(item.get("key", ""), {})
        for col, column in enumerate(columns):
            value = item.get(column.key) if col < len(sheet.columns) else extra.get(column.key)
            _cell(ws, r, col, column, value, lang, styles[col])
    if sheet.computed:
        # Locked: the grey columns and the header; the white cells stay editable.
        ws.protect("", {"insert_rows": True, "delete_rows": True, "format_columns": True, "sort": True,
                        "autofilter": True, "select_locked_cells": True, "select_unlocked_cells": True})


def _dropdown(ws: Worksheet, col: int, column: Column, lang: str, last: int, titles: dict[str, str],
              rows: dict[str, int]) -> None:
    if column.kind == "choice":
        source: Any = [choice_word(column, v, lang) for v in column.choices]
    elif column.kind == "key" and column.ref:
        title = titles[column.ref].replace("'", "''")
        source = f"='{title}'!$A$2:$A${rows[column.ref] + _SPARE_ROWS + 1}"
    else:
        return
    ws.data_validation(1, col, last, col, {"validate": "list", "source": source, "ignore_blank": True,
                                           "error_type": "stop"})


def _fields(ws: Worksheet, sheet: Sheet, values: dict[str, Any], lang: str, fmt: _Formats) -> None:
    ws.set_column(0, 0, 40, fmt.label)
    ws.set_column(1, 1, 60, fmt.text)
    ws.write_string(0, 0, word(FIELD, lang), fmt.header)
    ws.write_string(0, 1, word(VALUE, lang), fmt.header)
    ws.freeze_panes(1, 0)
    for r, column in enumerate(sheet.columns, 1):
        ws.write_string(r, 0, word(column.header, lang), fmt.label)
        value: Any = values
        for step in column.key.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if column.key == "calendar.country" and isinstance(values.get("calendar"), str):
            value = values["calendar"]
        _cell(ws, r, 1, column, value, lang, fmt.of(column))
        if column.kind == "choice":
            ws.data_validation(r, 1, r, 1, {"validate": "list", "ignore_blank": True,
                                            "source": [choice_word(column, v, lang) for v in column.choices]})


def _exported(ws: Worksheet, state: dict[str, dict[str, Any]]) -> None:
    """The very hidden sheet an import compares the live fields with (models/importer.exported_state)."""
    ws.very_hidden()
    for row, (key, values) in enumerate(state.items()):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, json.dumps(values, ensure_ascii=False, sort_keys=True))


def _instructions(ws: Worksheet, lang: str, fmt: _Formats, titles: dict[str, str]) -> None:
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 36)
    ws.set_column(2, 2, 90, fmt.wrap)
    r = 0
    for note in INSTRUCTION_NOTES:
        ws.write_string(r, 0, word(note, lang))
        r += 1
    r += 1
    for col, header in enumerate(INSTRUCTION_HEADERS):
        ws.write_string(r, col, word(header, lang), fmt.header)
    for sheet in SHEETS:
        for column in sheet.columns + sheet.computed:
            r += 1
            ws.write_string(r, 0, titles[sheet.part])
            ws.write_string(r, 1, word(column.header, lang))
            ws.write_string(r, 2, word(column.help, lang))
