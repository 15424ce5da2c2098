"""Hostile output paths and settings (issue 11, points 8 and 9).

Names start with "settings:" (`--only settings:`). Where the harm is not in the exit code (a FIFO
or a device replaced by a file, a folder made by a typo) the outcome says so after a ";". No
attack touches the machine's own /dev/null: the device is one made in the attack's folder.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

from attacks import attack, cli

AS_OF = "2014-11-10"
SMTP = {"ROADMAP_SMTP_HOST": "127.0.0.1", "ROADMAP_SMTP_PORT": "1", "ROADMAP_SMTP_SECURITY": "none"}


def _small() -> str:
    return str(Path(os.environ["ROADMAP_CODE"]) / "tests" / "data" / "small.yaml")


def _imported(**env: str) -> None:
    """Import the small roadmap, then set ``env`` (the import must not read the bad settings)."""
    assert cli("import", _small()).startswith("exit 0"), "import failed"
    _setenv(**env)


def _setenv(**env: str) -> None:
    from config import reset_settings_cache

    os.environ.update(env)
    reset_settings_cache()


def _kind(path: Path) -> str:
    if path.is_symlink():
        return "link"
    mode = os.lstat(path).st_mode
    return "FIFO" if stat.S_ISFIFO(mode) else "device" if stat.S_ISCHR(mode) else \
        "folder" if stat.S_ISDIR(mode) else "file"


# --- settings read by every command ---------------------------------------------------------------

@attack("settings: ROADMAP_SMTP_PORT=abc, remind", __name__, env={**SMTP, "ROADMAP_SMTP_PORT": "abc"})
def smtp_port_text(tmp: Path) -> str:
    return cli("remind", "--as-of", AS_OF)


@attack("settings: ROADMAP_SMTP_SECURITY=tls, remind", __name__, env={**SMTP, "ROADMAP_SMTP_SECURITY": "tls"})
def smtp_security_unknown(tmp: Path) -> str:
    return cli("remind", "--as-of", AS_OF)


@attack("settings: ROADMAP_SMTP_TIMEOUT=nan, remind", __name__)
def smtp_timeout_nan(tmp: Path) -> str:
    _imported(**SMTP, ROADMAP_SMTP_TIMEOUT="nan")
    return cli("remind", "--as-of", AS_OF)


@attack("settings: template folder missing, remind", __name__)
def template_dir_missing(tmp: Path) -> str:
    _imported(ROADMAP_TEMPLATE_DIR="/nonexistent/tpl")
    return cli("remind", "--as-of", AS_OF)


@attack("settings: template folder is a file, run", __name__)
def template_dir_file(tmp: Path) -> str:
    (tmp / "templates").write_text("a file")
    _imported(ROADMAP_TEMPLATE_DIR=str(tmp / "templates"))
    return cli("run", "--as-of", AS_OF)


@attack("settings: ROADMAP_CONFIG_FILE missing, status", __name__)
def config_file_missing(tmp: Path) -> str:
    os.environ["ROADMAP_CONFIG_FILE"] = str(tmp / "roadmap.env")  # read when the settings are first imported
    return cli("status")


@attack("settings: ROADMAP_CONFIG_FILE is a FIFO, status", __name__)
def config_file_fifo(tmp: Path) -> str:
    """The old code waits for a writer; one comes after 15 s (so the attack ends), with no settings."""
    fifo = tmp / "roadmap.env"
    os.mkfifo(fifo)
    os.environ["ROADMAP_CONFIG_FILE"] = str(fifo)

    def writer() -> None:
        with open(fifo, "w"):
            pass

    timer = threading.Timer(15, writer)
    timer.daemon = True
    timer.start()
    outcome = cli("status")
    timer.cancel()  # the new code did not wait: no writer needed
    return outcome


# --- the database URL ---------------------------------------------------------------------------

@attack("settings: database URL with port abc, status", __name__,
        env={"ROADMAP_DATABASE_URL": "postgresql://user:pw@db.invalid:abc/roadmap"})
def db_port_text(tmp: Path) -> str:
    return cli("status")


@attack("settings: database URL mysql:// (no driver), status", __name__,
        env={"ROADMAP_DATABASE_URL": "mysql://user@db.invalid/roadmap"})
def db_missing_driver(tmp: Path) -> str:
    return cli("status")


@attack("settings: SQLite database under /proc, import", __name__,
        env={"ROADMAP_DATABASE_URL": "sqlite:////proc/roadmap.db"})
def db_under_proc(tmp: Path) -> str:
    return cli("import", _small())


@attack("settings: SQLite database in a missing folder, import", __name__)
def db_missing_folder(tmp: Path) -> str:
    outcome = cli("import", _small(), "--db", f"sqlite:///{tmp}/typo/sub/roadmap.db")
    return outcome + ("; folder made, new database" if (tmp / "typo").exists() else "")


@attack("settings: database of a newer schema, status", __name__)
def db_newer_schema(tmp: Path) -> str:
    _imported()
    from models.db import forget_schema_check

    with sqlite3.connect(tmp / "roadmap.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed0042'")
    forget_schema_check(os.environ["ROADMAP_DATABASE_URL"])  # as a new process would
    return cli("status", "--as-of", AS_OF)


# --- report --out -----------------------------------------------------------------------------------

def _report_to(target: str, tmp: Path, kept: Path | None = None) -> str:
    _imported()
    before = _kind(kept) if kept else None
    outcome = cli("report", "--as-of", AS_OF, "--out", target)
    if kept is not None and _kind(kept) != before:
        outcome += f"; the {before} was replaced by a {_kind(kept)}"
    return outcome


@attack("settings: report --out a folder", __name__)
def out_folder(tmp: Path) -> str:
    (tmp / "dir").mkdir()
    return _report_to(str(tmp / "dir"), tmp)


@attack("settings: report --out ''", __name__)
def out_empty(tmp: Path) -> str:
    return _report_to("", tmp)


@attack("settings: report --out /proc/report.docx", __name__)
def out_proc(tmp: Path) -> str:
    return _report_to("/proc/report.docx", tmp)


@attack("settings: report --out a FIFO", __name__)
def out_fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe")
    return _report_to(str(tmp / "pipe"), tmp, kept=tmp / "pipe")


@attack("settings: report --out a device (own /dev/null)", __name__)
def out_device(tmp: Path) -> str:
    os.mknod(tmp / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # root only, like the bench
    return _report_to(str(tmp / "null"), tmp, kept=tmp / "null")


@attack("settings: report --out a symbolic link", __name__)
def out_symlink(tmp: Path) -> str:
    (tmp / "real.docx").write_bytes(b"keep")
    (tmp / "link.docx").symlink_to("real.docx")
    return _report_to(str(tmp / "link.docx"), tmp, kept=tmp / "link.docx")
