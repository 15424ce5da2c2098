"""Which paths a user may name for a file this program writes: the report (``--out``,
``ROADMAP_REPORTS_DIR``) and the SQLite database (``--db``); and how a file it reads (a roadmap
file) is read: ``read_regular_file``, only a regular file and at most a given size.

The rule: a regular file, new or existing, in a folder that exists. Anything else is refused
with one line naming the option, before anything is read or written:

- no file name (``""``, ``.``, a path ending in ``/`` or ``..``), a folder, a device, a FIFO
  or a socket (``/dev/null`` would otherwise be replaced by a regular file, and a FIFO would
  block or be replaced);
- a missing folder, unless the caller makes it: the report's (``--out`` or
  ROADMAP_REPORTS_DIR) is made, the database's only for the default (``var/``), since a typo
  in ``--db`` would otherwise start a new, empty database away from the real one;
- a folder under /proc or /sys, where no file can be created;
- for a file that is replaced (the report: written beside, then renamed over it), a symbolic
  link: renaming would replace the link, not the file it points to, so the user is asked for
  the file's own path. A database is opened, not replaced, so a link to one is followed.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import uuid
from pathlib import Path

from models.errors import UserError

SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"))
NOT_REGULAR = "is not a regular file (a device, FIFO or socket); only a regular file will do"
_CHUNK = 1 << 20


class FileRefused(UserError):
    """A file that is not read: not a regular file, or bigger than its limit."""


def read_regular_file(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them. Anything else is
    refused before it is read whole: a folder, a device (``/dev/zero`` never ends), a FIFO
    (opened without waiting for a writer, then refused), a socket (FileRefused); a file over
    ``limit`` bytes, by its size or by what reading it gives (a file under /proc says 0), is
    refused with "the file is N MB; {what} are limited to M MB". OSError when it cannot be
    opened or read."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):  # before opening: opening a device may do things
        raise FileRefused(_kind_of(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)  # the file opened, not the name: it may have been replaced meanwhile
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(_kind_of(info.st_mode))
        if info.st_size > limit:
            raise FileRefused(_too_big(info.st_size, limit, what))
        chunks, total = [], 0
        while total <= limit:  # one byte more than the limit tells a file that grew
            chunk = os.read(fd, min(max(info.st_size + 1 - total, _CHUNK), limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(_too_big(limit, limit, what, more=True))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind_of(mode: int) -> str:
    return "the file is a folder, not a file" if stat.S_ISDIR(mode) else f"the file {NOT_REGULAR}"


def _too_big(size: int, limit: int, what: str, more: bool = False) -> str:
    megabytes = math.ceil(size * 10 / (1 << 20)) / 10
    return f"the file is {'more than ' if more else ''}{megabytes:g} MB; {what} are limited to {limit / (1 << 20):g} MB"


def check_file_target(path: str | Path, what: str, *, replaced: bool = True, new_folder_ok: bool = False) -> Path:
    """``path`` as a Path when a regular file may be written there; else a UserError
    ``"{what}: ..."``. Nothing is created here. ``replaced``: the file is written beside and
    renamed over it (a symbolic link is refused); ``new_folder_ok``: its folder may be missing
    (the writer makes it), as long as the nearest existing one is a folder."""
    text = str(path)
    target = Path(text)
    if not text.strip() or "\0" in text or text.endswith(("/", os.sep)) or target.name in ("", ".", ".."):
        raise UserError(f"{what}: {text!r} is not a file name")
    try:
        info = os.lstat(target) if replaced else os.stat(target)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise UserError(f"{what}: {target.parent} is not a folder (a part of it is a file)") from None
    except OSError as exc:
        raise UserError(f"{what}: {target}: {exc.strerror}") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise UserError(f"{what}: {target} is a symbolic link (to {os.readlink(target)}); "
                            "give the path of the file itself")
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{what}: {target} is a folder; give a file name in it")
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{what}: {target} {NOT_REGULAR}")
    folder = target.parent.resolve()
    if any(folder == system or system in folder.parents for system in SYSTEM_FOLDERS):
        raise UserError(f"{what}: {target} is in {folder}, a system folder where no file can be written")
    if folder.is_dir():
        return target
    if folder.exists():
        raise UserError(f"{what}: {target.parent} is not a folder")
    if not new_folder_ok:
        raise UserError(f"{what}: the folder {target.parent} does not exist; create it first")
    return target


def make_folder(target: Path, what: str) -> None:
    """Create the missing folders of ``target`` (checked with ``new_folder_ok``)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{what}: cannot create the folder {target.parent}: {exc.strerror}") from None


def write_replacing(target: str | Path, data: bytes, what: str, *, new_folder_ok: bool = False) -> Path:
    """Write ``data`` to ``target`` (checked with ``check_file_target``) atomically: a unique
    file beside it, then a rename; a reader sees the old file or the new one, never half. The
    temporary file is written with open(), so its mode comes from the umask (a report is for
    readers: the web server, a shared folder). A failure leaves no temporary file behind."""
    target = check_file_target(target, what, new_folder_ok=new_folder_ok)
    make_folder(target, what)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError(f"{what}: cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return target
