"""The weekly report as PDF: LibreOffice converts the DOCX (``soffice --headless --convert-to pdf``).

Why LibreOffice: it lays out the DOCX as Word would, with the report's fonts and tables;
nothing in Python does that. It is optional: ``require_soffice`` says in one line how to get
it, before anything is read or written, when a PDF is asked for and it is not installed.

Each conversion runs in a temporary folder with a profile of its own
(``-env:UserInstallation``): a LibreOffice open on the desktop, or a second conversion at
the same moment, would otherwise share the profile and fail or hand the job to the other
process. The input is copied there under a plain name (soffice names its output after the
input, and a user's ``--out`` may hold any character). A conversion that takes longer than
``PDF_TIMEOUT`` seconds is stopped (its whole process group: soffice starts soffice.bin).
The PDF is then written atomically to its target (models/file_paths.py write_replacing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from models.errors import UserError
from models.file_paths import write_replacing

PDF_CONTENT_TYPE = "application/pdf"
PDF_TIMEOUT = 300.0  # seconds; the 10,000-task report converts in well under a minute
_SAID = 300  # characters of soffice's output quoted in an error


class PdfConversionFailed(Exception):
    """LibreOffice is installed but did not produce the PDF (an error, or the timeout)."""


def pdf_beside(docx: Path) -> Path:
    """Where the PDF of a report goes: beside its DOCX, with the suffix .pdf."""
    return docx.with_suffix(".pdf")


def require_soffice(why: str) -> str:
    """The path of LibreOffice's ``soffice``; a one-line UserError naming ``why`` (the option
    or setting that asked for a PDF) when it is not installed."""
    found = shutil.which("soffice")
    if found is None:
        raise UserError(f"{why}: a PDF needs LibreOffice (soffice), which is not installed; install it "
                        "(Debian/Ubuntu: apt-get install libreoffice-writer-nogui) or ask for the DOCX only")
    return found


def convert_to_pdf(docx: Path, target: Path, *, why: str, timeout: float = PDF_TIMEOUT) -> Path:
    """Convert ``docx`` to a PDF written at ``target``; returns ``target``."""
    soffice = require_soffice(why)
    with tempfile.TemporaryDirectory(prefix="roadmap-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "report.docx"
        shutil.copyfile(docx, source)
        command = [soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--norestore",
                   "--convert-to", "pdf", "--outdir", str(folder / "out"), str(source)]
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=folder)
        try:
            said, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise PdfConversionFailed(f"LibreOffice did not convert {docx} to PDF within {timeout:g} s") from None
        result = folder / "out" / "report.pdf"
        if proc.returncode != 0 or not result.is_file():
            last = said.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfConversionFailed(f"LibreOffice could not convert {docx} to PDF "
                                      f"(exit {proc.returncode}): {last[0][:_SAID]}")
        return write_replacing(target, result.read_bytes(), "report PDF", new_folder_ok=True)


def _stop(proc: subprocess.Popen) -> None:
    """End a conversion that is still running, with what it started (its own process group;
    the leader is not reaped yet, so the group id is still ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
