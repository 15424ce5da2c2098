"""Workbooks for the tests: the small roadmap written as a workbook (without a database),
edited cell by cell with openpyxl, and saved again by LibreOffice Calc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from tasks.workbook_write import workbook_bytes

CALC = Path("/usr/lib/libreoffice/program/libsclo.so")  # Debian's libreoffice-calc-nogui
needs_calc = pytest.mark.skipif(shutil.which("soffice") is None or not CALC.exists(),
                                reason="LibreOffice Calc (soffice, libreoffice-calc-nogui) is not installed: "
                                       "`make system-deps` installs it")


def small_workbook(small_yaml: Path, out: Path, lang: str = "ru") -> Path:
    """tests/data/small.yaml as a workbook: the YAML reader's document, written as export does."""
    out.write_bytes(workbook_bytes(yaml.safe_load(small_yaml.read_text()), lang, {}))
    return out


def row_of(ws: Any, key: str) -> int:
    return next(cell.row for cell in ws["A"] if cell.value == key)


def column_of(ws: Any, header: str) -> int:
    return next(cell.column for cell in ws[1] if cell.value == header)


def edit(path: Path, sheet: str, key: str, header: str, value: Any, out: Path | None = None) -> Path:
    """Set one cell: the row of ``key``, the column headed ``header``; saved to ``out`` (or in place)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    ws.cell(row_of(ws, key), column_of(ws, header)).value = value  # ws.cell(r, c, None) would not clear it
    wb.save(out or path)
    return out or path


def saved_by_libreoffice(path: Path, tmp_path: Path) -> Path:
    """``path`` opened and saved as .xlsx by LibreOffice Calc (a profile of its own per test)."""
    outdir = tmp_path / "libreoffice"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(path)],
                   check=True, capture_output=True, timeout=180)
    saved = outdir / path.name
    assert saved.exists() and saved.read_bytes() != path.read_bytes()
    return saved
