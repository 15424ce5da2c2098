"""Hostile output paths and settings (issue 11, points 8 and 9): each is refused with exit 2 and
exactly one line on stderr, no traceback, and nothing written. Real processes, as a user runs them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2014-11-10"
SECRET = "0123456789abcdef0123456789abcdef"
SMALL = str(ROOT / "tests" / "data" / "small.yaml")


def roadmap(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "PREFECT_API"))}
    full.update(PYTHONPATH=str(ROOT), ROADMAP_OUTBOX_DIR=str(cwd / "outbox"), ROADMAP_REPORTS_DIR=str(cwd / "reports"))
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout)


def assert_refused(out: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2 and exactly one line on stderr, naming the setting or option."""
    lines = out.stderr.splitlines()
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database holding the small roadmap, imported once; tests use copies."""
    folder = tmp_path_factory.mktemp("imported")
    out = roadmap("import", SMALL, "--db", f"sqlite:///{folder}/roadmap.db", cwd=folder)
    assert out.returncode == 0, out.stderr
    return folder / "roadmap.db"


@pytest.fixture
def db(imported: Path, tmp_path: Path) -> str:
    for source in imported.parent.glob("roadmap.db*"):
        shutil.copy(source, tmp_path / source.name)
    return f"sqlite:///{tmp_path}/roadmap.db"


def outbox_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    finally:
        engine.dispose()


# --- point 8: `report --out` writes only to a regular file ------------------------------------------

def test_report_out_a_new_and_an_existing_regular_file_is_written(db, tmp_path):
    for _ in range(2):  # new, then existing (replaced)
        out = roadmap("report", "--as-of", AS_OF, "--db", db, "--out", "r.docx", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.docx").is_file() and (tmp_path / "r.docx").read_bytes()[:2] == b"PK"
    assert not list(tmp_path.glob(".r.docx.*"))  # no temporary file left


def test_report_out_a_folder_is_refused(db, tmp_path):
    (tmp_path / "dir").mkdir()
    assert_refused(roadmap("report", "--as-of", AS_OF, "--db", db, "--out", "dir", cwd=tmp_path),
                   "--out", "is a folder")
    assert list((tmp_path / "dir").iterdir()) == [] and not list(tmp_path.glob(".dir.*"))


@pytest.mark.parametrize("name", ["", ".", "sub/", "/proc/report.docx", "/proc/self/status"])
def test_report_out_without_a_file_name_or_in_proc_is_refused(db, tmp_path, name):
    assert_refused(roadmap("report", "--as-of", AS_OF, "--db", db, "--out", name, cwd=tmp_path), "--out")
    assert not (tmp_path / "reports").exists()


def test_report_out_a_fifo_is_refused_and_stays_a_fifo(db, tmp_path):
    fifo = tmp_path / "pipe.docx"
    os.mkfifo(fifo)
    assert_refused(roadmap("report", "--as-of", AS_OF, "--db", db, "--out", str(fifo), cwd=tmp_path, timeout=60),
                   "--out", "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_is_refused_as_report_or_database_and_stays_a_device(db, tmp_path):
    device = tmp_path / "null"  # a /dev/null of our own: the real one must not be put at risk
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    assert_refused(roadmap("report", "--as-of", AS_OF, "--db", db, "--out", str(device), cwd=tmp_path),
                   "--out", "not a regular file")
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    # a database file that is a device: refused too (the real /dev/null is never used here, so that
    # a regression cannot replace it on the machine running the tests)
    assert_refused(roadmap("status", "--db", f"sqlite:///{device}", cwd=tmp_path), "not a regular file")


def test_report_out_a_symbolic_link_is_refused_and_both_stay(db, tmp_path):
    (tmp_path / "real.docx").write_bytes(b"keep me")
    (tmp_path / "link.docx").symlink_to("real.docx")
    assert_refused(roadmap("report", "--as-of", AS_OF, "--db", db, "--out", "link.docx", cwd=tmp_path),
                   "--out", "symbolic link")
    assert (tmp_path / "link.docx").is_symlink() and (tmp_path / "real.docx").read_bytes() == b"keep me"


def test_reports_dir_that_is_a_file_is_refused(db, tmp_path):
    (tmp_path / "reports.txt").write_text("not a folder")
    out = roadmap("report", "--as-of", AS_OF, "--db", db, cwd=tmp_path,
                  env={"ROADMAP_REPORTS_DIR": str(tmp_path / "reports.txt")})
    assert_refused(out, "ROADMAP_REPORTS_DIR", "not a folder")
    assert (tmp_path / "reports.txt").read_text() == "not a folder"


# --- point 9: settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("env, words", [
    ({"ROADMAP_SMTP_PORT": "abc"}, ["ROADMAP_SMTP_PORT"]),
    ({"ROADMAP_SMTP_PORT": "99999"}, ["ROADMAP_SMTP_PORT"]),
    ({"ROADMAP_SMTP_SECURITY": "tls"}, ["ROADMAP_SMTP_SECURITY"]),
    ({"ROADMAP_SMTP_TIMEOUT": "nan"}, ["ROADMAP_SMTP_TIMEOUT"]),
    ({"ROADMAP_SMTP_TIMEOUT": "-1"}, ["ROADMAP_SMTP_TIMEOUT"]),
    ({"ROADMAP_TEMPLATE_DIR": "/nonexistent/templates"}, ["ROADMAP_TEMPLATE_DIR", "does not exist"]),
    ({"ROADMAP_TEMPLATE_DIR": str(ROOT / "README.md")}, ["ROADMAP_TEMPLATE_DIR", "not a folder"]),
    ({"ROADMAP_MAIL_MAX_ATTEMPTS": "101"}, ["ROADMAP_MAIL_MAX_ATTEMPTS", "100"]),
    ({"ROADMAP_SMTP_CONNECTIONS": "17"}, ["ROADMAP_SMTP_CONNECTIONS", "16"]),
    ({"ROADMAP_MAIL_LEASE_SECONDS": "inf"}, ["ROADMAP_MAIL_LEASE_SECONDS", "finite"]),
    ({"ROADMAP_MAIL_LEASE_SECONDS": "nan"}, ["ROADMAP_MAIL_LEASE_SECONDS", "finite"]),
    ({"ROADMAP_MAIL_LEASE_SECONDS": "86401"}, ["ROADMAP_MAIL_LEASE_SECONDS", "86400"]),
    ({"ROADMAP_REPORT_MAX_ROWS": "99999999999"}, ["ROADMAP_REPORT_MAX_ROWS", "1000"]),
    ({"ROADMAP_MAIL_FROM": '"Bad" <x@y.org>, <z@evil.example>'}, ["ROADMAP_MAIL_FROM", "one address only"]),
    ({"ROADMAP_MAIL_FROM": "Bad <x@y.org> <z@evil.example>"}, ["ROADMAP_MAIL_FROM", "one address only"]),
    ({"ROADMAP_OFFICE_TIMEZONE": "MSK"}, ["ROADMAP_OFFICE_TIMEZONE", "unknown timezone 'MSK'"]),
    ({"ROADMAP_OFFICE_TIMEZONE": "Europe/Atlantis"}, ["ROADMAP_OFFICE_TIMEZONE", "unknown timezone"]),
])
def test_a_bad_mail_setting_is_refused_before_anything_is_recorded(db, tmp_path, env, words):
    env = {"ROADMAP_SMTP_HOST": "127.0.0.1", **env}
    assert_refused(roadmap("run", "--as-of", AS_OF, "--db", db, cwd=tmp_path, env=env), *words)
    assert outbox_count(db) == 0 and not (tmp_path / "reports").exists()


@pytest.mark.parametrize("name, value", [
    ("web_max_body_bytes", 10 * 1024 * 1024 + 1), ("web_sign_in_window_seconds", 86_401),
    ("web_sign_in_failures_per_client", 10_001), ("web_sign_in_failures_total", 100_001),
    ("mail_max_attempts", 101), ("smtp_connections", 17), ("smtp_connections", 0), ("report_max_rows", 1_001),
    ("mail_lease_seconds", 86_401), ("mail_lease_seconds", float("inf")), ("mail_lease_seconds", float("nan")),
    ("smtp_timeout", float("inf")), ("smtp_port", 65_536),
])
def test_every_numeric_setting_has_a_finite_upper_bound(name, value):
    from pydantic import ValidationError

    from config import Settings

    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


@pytest.mark.parametrize("sender", ["roadmap@example.org", "Проектный офис <pmo@example.org>",
                                    '"O\'Brien, Pat" <pat@example.org>',
                                    '"Evil <boss@corp.example>" <pmo@example.org>'])
def test_one_sender_address_with_any_quoted_name_is_accepted(sender):
    from config import Settings

    assert Settings(mail_from=sender).mail_from == sender


def test_an_unreadable_template_folder_is_refused(tmp_path, monkeypatch):
    """Root reads every folder, so the one answer that differs for another user is given here."""
    from pydantic import ValidationError

    from config import Settings

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tmp_path else real_access(path, mode))
    with pytest.raises(ValidationError, match="is not readable"):
        Settings(template_dir=tmp_path)
    assert Settings(template_dir=ROOT / "templates").template_dir == ROOT / "templates"


# --- point 9: the database URL ----------------------------------------------------------------------

@pytest.mark.parametrize("url, words", [
    ("postgresql://x:abc/db", ["port is not a number"]),
    ("postgresql://user:s3cret-pw@x:abc/db", ["port is not a number"]),
    ("postgresql://user:s3cret-pw@localhost:99999/db", ["port 99999 is not between 1 and 65535"]),
    ("postgresql://u@localhost:0/db", ["port 0 is not between 1 and 65535"]),
    ("postgresql+asyncpg://user:s3cret-pw@localhost/db", ["postgresql+asyncpg is an asyncio driver"]),
    ("postgresql+psycopg_async://u@localhost/db", ["asyncio driver"]),
    ("sqlite+aiosqlite:///roadmap.db", ["asyncio driver"]),
    ("mysql://user@host/db", ["mysql:// is not supported"]),
    ("postgresql+psycopg2://user@host/db", ["driver", "not installed"]),
    ("foo://x/db", ["not supported"]),
    ("", ["not a usable database URL"]),
    ("sqlite:////proc/roadmap.db", ["/proc"]),
    ("sqlite:////proc/self/status", ["/proc"]),
    ("sqlite:///{tmp}/missing/sub/roadmap.db", ["does not exist"]),
    ("sqlite:///missing/roadmap.db", ["does not exist"]),
    ("sqlite:///{tmp}", ["is a folder"]),
])
def test_an_unusable_database_url_is_refused(tmp_path, url, words):
    out = roadmap("status", "--db", url.format(tmp=tmp_path), cwd=tmp_path)
    line = assert_refused(out, "--db / ROADMAP_DATABASE_URL", *words)
    assert "s3cret" not in line
    assert list(tmp_path.iterdir()) == []  # no folder made, no file


@pytest.mark.parametrize("command, url", [
    (["db", "upgrade"], "postgresql://x:abc/db"), (["run", "--as-of", AS_OF], "sqlite:////proc/roadmap.db"),
    (["web"], "postgresql://x:abc/db"), (["web"], "sqlite:////proc/roadmap.db"), (["import", SMALL], "mysql://h/db"),
    (["report", "--as-of", AS_OF], "sqlite:////proc/roadmap.db"), (["outbox"], "postgresql://x:abc/db"),
])
def test_every_command_refuses_an_unusable_database_url(tmp_path, url, command):
    out = roadmap(*command, "--db", url, cwd=tmp_path, env={"ROADMAP_SECRET_KEY": SECRET}, timeout=60)
    assert_refused(out, "--db / ROADMAP_DATABASE_URL")
    assert list(tmp_path.iterdir()) == []


def test_validate_needs_neither_the_database_nor_the_mail_settings(tmp_path):
    out = roadmap("validate", SMALL, "--db", "postgresql://x:abc/db", cwd=tmp_path,
                  env={"ROADMAP_SMTP_PORT": "abc", "ROADMAP_TEMPLATE_DIR": "/nonexistent"})
    assert out.returncode == 0, out.stderr


def test_the_default_database_folder_is_still_made(tmp_path):
    out = roadmap("db", "upgrade", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "var" / "roadmap.db").is_file()


def _set_revision(url: str, revision: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@pytest.mark.parametrize("command", [["status", "--as-of", AS_OF], ["db", "upgrade"], ["run", "--as-of", AS_OF],
                                     ["web"]])
def test_a_database_of_a_newer_roadmap_office_is_refused(db_url, tmp_path, command):
    assert roadmap("import", SMALL, "--db", db_url, cwd=tmp_path).returncode == 0
    _set_revision(db_url, "f00dfeed0042")
    out = roadmap(*command, "--db", db_url, cwd=tmp_path, env={"ROADMAP_SECRET_KEY": SECRET}, timeout=60)
    assert_refused(out, "written by a newer Roadmap Office (revision f00dfeed0042); upgrade Roadmap Office")
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:  # left as it was
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "f00dfeed0042"
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
    engine.dispose()


# --- the config file ---------------------------------------------------------------------------------

def _config(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "roadmap.env"
    if kind == "missing":
        return path
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # the old code opened it and waited for a writer, for ever
    elif kind == "binary":
        path.write_bytes(b"ROADMAP_SMTP_HOST=\xff\xfe\x00mail\n")
    return path


@pytest.mark.parametrize("kind, words", [("missing", "does not exist"), ("folder", "not a regular file"),
                                         ("fifo", "not a regular file"), ("binary", "not UTF-8")])
def test_an_unusable_config_file_is_refused(db, tmp_path, kind, words):
    config = _config(tmp_path, kind)
    try:
        out = roadmap("status", "--as-of", AS_OF, "--db", db, cwd=tmp_path,
                      env={"ROADMAP_CONFIG_FILE": str(config)}, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the command hung on the config file")
    assert_refused(out, "ROADMAP_CONFIG_FILE", words)


@pytest.mark.parametrize("key", [None, "short"])
def test_web_without_a_usable_secret_key_says_so_in_one_line(db, tmp_path, key):
    env = {"ROADMAP_SECRET_KEY": key} if key else {}
    line = assert_refused(roadmap("web", "--db", db, "--port", "1", cwd=tmp_path, env=env), "ROADMAP_SECRET_KEY")
    assert "token_urlsafe" in line


# --- a user's mail templates ---------------------------------------------------------------------------

def _templates(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / "templates"
    (folder / "mail").mkdir(parents=True)
    (folder / "mail" / name).write_text(source)
    return folder


@pytest.mark.parametrize("command, name", [("remind", "reminder.subject.j2"), ("run", "reminder.subject.j2"),
                                           ("run", "report.subject.j2"), ("escalate", "report.txt.j2")])
def test_a_mail_template_that_does_not_compile_is_refused_before_anything_is_recorded(db, tmp_path, command, name):
    """`run` sends the reminders before it renders the report: a broken report template is found
    when the settings are read, not after the reminders went out."""
    folder = _templates(tmp_path, name, "Line one\n{% if %}\n")
    out = roadmap(command, "--as-of", AS_OF, "--db", db, cwd=tmp_path,
                  env={"ROADMAP_SMTP_HOST": "127.0.0.1", "ROADMAP_SMTP_PORT": "1", "ROADMAP_TEMPLATE_DIR": str(folder)})
    assert_refused(out, "ROADMAP_TEMPLATE_DIR", f"{folder / 'mail' / name}:2: ")
    assert outbox_count(db) == 0 and not (tmp_path / "reports").exists()


def test_a_mail_template_using_an_unknown_name_is_a_one_line_error_and_nothing_is_recorded(db, tmp_path):
    folder = _templates(tmp_path, "reminder.subject.j2", "{{ no_such_name }}")
    out = roadmap("remind", "--as-of", AS_OF, "--db", db, cwd=tmp_path,
                  env={"ROADMAP_SMTP_HOST": "127.0.0.1", "ROADMAP_SMTP_PORT": "1", "ROADMAP_TEMPLATE_DIR": str(folder),
                       "ROADMAP_PUBLIC_URL": "https://roadmap.example.org"})  # no warning about loopback links
    assert_refused(out, "reminder.subject.j2", "no_such_name")
    assert outbox_count(db) == 0


# --- a roadmap file's policy ---------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, key", [
    ("escalate_after: [3, 10]", "escalate_after: [3, 99999999999]", "policy.escalate_after[1]"),
    ("escalate_after: [3, 10]", "escalate_after: [2501, 2502]", "policy.escalate_after[0]"),
    ("remind_before: [5, 1]", "remind_before: [" + ", ".join(["1"] * 61) + "]", "policy.remind_before"),
])
def test_policy_day_numbers_are_bounded_with_file_and_line(tmp_path, old, new, key):
    source = Path(SMALL).read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "road.yaml"
    path.write_text(source.replace(old, new), encoding="utf-8")
    line = next(n for n, text in enumerate(source.splitlines(), 1) if old in text)
    out = roadmap("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2 and f"{path}:{line}: {key}" in out.stderr, out.stderr
