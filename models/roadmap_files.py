"""Which reader loads a roadmap file: by its extension, into the loader's LoadedRoadmap.

``roadmap validate`` and ``roadmap import`` (and the sync-roadmap flow) load every file
through ``load_roadmap_file``: YAML (models/loader.py) and Excel workbooks
(models/workbook_read.py); any other name is read as YAML. A spreadsheet type that is not
read (.xls, .csv, .ods, ...) is refused with what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from models.loader import LoadedRoadmap, load_roadmap
from models.problems import Problem, RoadmapInvalid


def _workbook(path: str | Path) -> LoadedRoadmap:
    from models.workbook_read import load_workbook_file  # openpyxl only for workbooks

    return load_workbook_file(path)


# Extension -> reader. Another format plugs in here (and its writer in tasks/roadmap_export.py).
READERS: dict[str, Callable[[str | Path], LoadedRoadmap]] = {
    ".yaml": load_roadmap,
    ".yml": load_roadmap,
    ".xlsx": _workbook,
}
_SAVE_XLSX = "open it in Excel or LibreOffice Calc and save it as an Excel workbook (.xlsx)"
# Types people will try, and what to do instead.
INSTEAD: dict[str, str] = {
    ".xls": f"an old Excel 97-2003 workbook: {_SAVE_XLSX}",
    ".xlsm": f"a workbook with macros: {_SAVE_XLSX}, without macros",
    ".xlsb": f"a binary Excel workbook: {_SAVE_XLSX}",
    ".ods": f"an OpenDocument spreadsheet: {_SAVE_XLSX}",
    ".csv": "a CSV file, which holds one sheet; a roadmap needs several: write a workbook with `roadmap new FILE.xlsx` "
            "(or `roadmap export FILE.xlsx`), fill it in and import that",
}


def load_roadmap_file(path: str | Path) -> LoadedRoadmap:
    """Load and check a roadmap file of any supported type; RoadmapInvalid otherwise."""
    suffix = Path(str(path)).suffix.lower()
    if suffix in INSTEAD:
        raise RoadmapInvalid([Problem(1, "(file)", f"{suffix!r} files are not read: this is {INSTEAD[suffix]}",
                                      "error", str(path))])
    # Any other name is read as YAML, as it always was (a .json file is YAML too).
    return READERS.get(suffix, load_roadmap)(path)
