"""MPXJ, the reference reader and writer of project files, through Java (JPype): the optional
extra ``roadmap-office[msproject]``. Reading an .mpp file is converting it to MS Project XML
(MSPDI), which models/mspdi_import.py then reads like any .xml file.

The Java VM starts once per process (about half a second) and stays: JPype cannot start it twice.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from models.problems import Problem, RoadmapInvalid

INSTALL_HINT = ("reading .mpp files needs MPXJ and Java: pip install 'roadmap-office[msproject]' and a Java "
                "runtime (11 or later); or save the project from MS Project as XML (.xml) and import that")
_lock = threading.Lock()


class MpxjMissing(Exception):
    """MPXJ, JPype or a Java runtime is not installed."""


def start_jvm() -> Any:
    """The ``jpype`` module with the JVM running and MPXJ on its class path; MpxjMissing otherwise."""
    try:
        import jpype
        import mpxj  # noqa: F401  (puts MPXJ's jars on the class path)
    except ImportError:
        raise MpxjMissing(INSTALL_HINT) from None
    with _lock:
        if not jpype.isJVMStarted():
            try:
                jpype.startJVM(convertStrings=True)
            except (OSError, jpype.JVMNotFoundException) as exc:
                raise MpxjMissing(f"{INSTALL_HINT} ({exc})") from None
    return jpype


def read_project(path: str | Path) -> Any:
    """MPXJ's ProjectFile of the file at ``path`` (any format MPXJ reads: .mpp, .xml, .mpx, ...);
    RoadmapInvalid when it is not a project file MPXJ can read (damaged, password-protected)."""
    file = str(path)
    try:
        jpype = start_jvm()
    except MpxjMissing as exc:
        raise RoadmapInvalid([Problem(1, "(file)", str(exc), "error", file)]) from None
    from org.mpxj.reader import UniversalProjectReader

    try:
        project = UniversalProjectReader().read(file)
    except jpype.JException as exc:
        why = str(exc.getMessage() or type(exc).__name__).splitlines()[0]
        raise RoadmapInvalid([Problem(1, "(file)", f"MPXJ cannot read this project file: {why}", "error",
                                      file)]) from None
    if project is None:
        raise RoadmapInvalid([Problem(1, "(file)", "not a project file MPXJ recognises (MS Project .mpp, or its "
                                      "XML)", "error", file)])
    return project


def to_mspdi(path: str | Path) -> bytes:
    """The project file at ``path`` as MSPDI XML, written by MPXJ."""
    project = read_project(path)
    from java.io import ByteArrayOutputStream
    from org.mpxj.mspdi import MSPDIWriter

    out = ByteArrayOutputStream()
    MSPDIWriter().write(project, out)
    return bytes(out.toByteArray())
