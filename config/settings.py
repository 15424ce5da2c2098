"""The one settings object: environment variables with the ROADMAP_ prefix.

Values come, in order of precedence, from the environment, then from an optional
env file named by ROADMAP_CONFIG_FILE (see config/roadmap.example.env), then from the
defaults below. Secrets (the SMTP password, the web secret key, the web password) are
read from the environment (the SMTP password also from the system keyring) and never from
that file: a file gets copied, committed and backed up, so one that holds a secret is
refused. They are held as SecretStr so they never show up in a repr, a log line or a
dry-run. A database URL with a password in the file is not refused (it is often the only
way to point a service at its database): keep such a file readable by its owner only, or
use ~/.pgpass.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from models.addresses import parse_address
from models.calendar import time_zone
from models.db import DEFAULT_DATABASE_URL
from models.errors import UserError
from models.file_paths import FileRefused, read_regular_file
from models.spec import Weekday

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
MIN_SECRET_KEY_LENGTH = 16  # shorter keys can be guessed, and with them anyone can sign links
_HOW_TO_SET_KEY = (  # one line, as every exit-2 error
    "Set it to a long random value (e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`), the same for `roadmap remind`, "
    "so that the links in the emails work."
)


MAX_CONFIG_FILE_BYTES = 1 << 20
SECRET_FIELDS = frozenset({"smtp_password", "secret_key", "web_password"})


def _check_config_file(name: object) -> None:
    """A config file that is named must be there: a typo would otherwise drop every setting in
    it unseen. It must be a regular file (not a FIFO, a device or a folder) of modest size."""
    if not name:
        return
    path = Path(str(name))
    if not path.is_file():
        raise UserError(f"ROADMAP_CONFIG_FILE: {path} {'is not a regular file' if path.exists() else 'does not exist'}")
    if path.stat().st_size > MAX_CONFIG_FILE_BYTES:
        raise UserError(f"ROADMAP_CONFIG_FILE: {path} is larger than {MAX_CONFIG_FILE_BYTES} bytes")


MAX_TEMPLATE_BYTES = 1 << 20


def _check_mail_templates(folder: Path) -> None:
    """The mail templates of a ``template_dir`` must compile, checked when the settings are read:
    a syntax error found while rendering would stop `roadmap run` after the reminders went out
    and before the report. Says FILE:LINE. (A name the template uses that the renderer does not
    pass is only found when rendering: tasks/render_mail.py, still a one-line error.)"""
    mail = folder / "mail"
    if not mail.is_dir():
        return
    import jinja2  # only when there is a folder to check: most commands never render mail

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])  # the syntax of tasks/render_mail.py
    for path in sorted(mail.glob("*.j2")):
        try:
            env.parse(read_regular_file(path, MAX_TEMPLATE_BYTES, "mail templates").decode("utf-8"),
                      path.name, str(path))
        except FileRefused as exc:
            raise ValueError(f"{path}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not UTF-8 text (byte {exc.start})") from None
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"{path}:{exc.lineno}: {exc.message}") from None


class _ConfigFile(PydanticBaseSettingsSource):
    """The ROADMAP_CONFIG_FILE values, refusing any secret found there."""

    def __init__(self, settings_cls: type[BaseSettings], dotenv: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.dotenv = dotenv

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        values = self.dotenv()
        found = sorted(SECRET_FIELDS & values.keys())
        if found:
            names = ", ".join(f"ROADMAP_{name.upper()}" for name in found)
            raise UserError(f"{os.environ.get('ROADMAP_CONFIG_FILE')}: {names}: secrets are read from the "
                            "environment (or the keyring), never from the config file; remove it from the file")
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROADMAP_",
        env_file=os.environ.get("ROADMAP_CONFIG_FILE") or None,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    def __init__(self, **values: Any) -> None:
        _check_config_file(self.model_config.get("env_file"))
        try:
            super().__init__(**values)
        except UnicodeDecodeError as exc:  # pydantic-settings reads the config file as UTF-8
            raise UserError(f"ROADMAP_CONFIG_FILE: {self.model_config.get('env_file')} is not UTF-8 text "
                            f"(byte {exc.start})") from None

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the application database.",
    )

    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_timeout: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)
    smtp_oauth2_file: Path | None = Field(
        default=None,
        description="yagmail's OAuth2 file for a Google account, used instead of a password.",
    )
    mail_from: str = Field(
        default="roadmap-office@example.org",
        description='The sender: "addr@host" or "Display Name <addr@host>".',
    )
    mail_max_attempts: int = Field(default=5, ge=1, le=100)
    smtp_connections: int = Field(default=1, ge=1, le=16, description=(
        "SMTP connections used at once; pays off with a relay that is slow to answer."))
    mail_lease_seconds: float = Field(default=120.0, gt=0, le=86_400, allow_inf_nan=False, description=(
        "How long a claim on a message lasts unless renewed; its sender renews it while sending, "
        "so a message left claimed by a crashed process is sent again after this."))

    outbox_dir: Path = Path("var/outbox")
    reports_dir: Path = Path("var/reports")
    template_dir: Path | None = Field(
        default=None,
        description="A folder whose templates override the built-in ones, file by file.",
    )
    report_template: Path | None = None
    report_max_rows: int = Field(default=25, ge=1, le=1_000)
    report_pdf: bool = Field(default=False, description=(
        "Write a PDF of every report beside its DOCX (LibreOffice) and attach both to the weekly email."))
    portfolio_report_to: str = Field(default="", description=(
        "Who gets the portfolio report (`roadmap report --portfolio --send`, and `roadmap run` without "
        "--roadmap on the report day): comma-separated addresses; empty: nobody."))
    portfolio_report_day: Weekday = Field(default="monday", description=(
        "The weekday `roadmap run` (every roadmap) sends the portfolio report on; a missed one is "
        "sent by the next run within the week."))
    office_language: Literal["ru", "en"] = Field(default="ru", description=(
        "The language of the office's own documents: the portfolio report and its mail."))
    office_timezone: str | None = Field(default=None, description=(
        "The office's IANA time zone (e.g. Europe/Moscow): the day of the portfolio report and of its "
        "weekday; empty: the machine's."))

    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    web_password: SecretStr | None = Field(
        default=None, description="Basic auth for the web app's roadmap page (any user name).",
    )
    # What a request may cost the web app (docs/web.md, "Limits"). The longest legit form is one text
    # of 2,000 characters (at most 24 KB URL-encoded, emoji included) with the link's token and the CSRF value.
    web_max_body_bytes: int = Field(default=64 * 1024, ge=4096, le=10 * 1024 * 1024, description=(
        "A request body longer than this is refused with 413 as soon as it gets there, unread."))
    web_sign_in_window_seconds: int = Field(default=600, ge=1, le=86_400, description=(
        "The sliding window in which wrong roadmap-page passwords are counted."))
    web_sign_in_failures_per_client: int = Field(default=10, ge=1, le=10_000, description=(
        "Wrong passwords one client address may give within the window; then 429 until the oldest leaves it."))
    web_sign_in_failures_total: int = Field(default=100, ge=1, le=100_000, description=(
        "Wrong passwords from all clients together within the window; then 429 for every sign-in "
        "(office links still open the page)."))

    @field_validator("smtp_host", "smtp_user", "smtp_oauth2_file", "template_dir", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("template_dir")
    @classmethod
    def _readable_folder(cls, value: Path | None) -> Path | None:
        """Checked when the settings are read, so a command refuses it before it records or
        sends anything (mail is rendered after the messages are planned)."""
        if value is None:
            return None
        folder = value.expanduser()
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder" if folder.exists() else f"the folder {folder} does not exist")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise ValueError(f"the folder {folder} is not readable")
        _check_mail_templates(folder)
        return folder

    @field_validator("office_timezone", mode="before")
    @classmethod
    def _known_zone(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            time_zone(value.strip())  # raises ValueError naming it
            return value.strip()
        return value

    def office_now(self) -> datetime:
        """Now in the office's time zone (ROADMAP_OFFICE_TIMEZONE), else the machine's."""
        if self.office_timezone is None:
            return datetime.now().astimezone()
        return datetime.now(time_zone(self.office_timezone))

    def office_today(self) -> date:
        return self.office_now().date()

    @field_validator("mail_from")
    @classmethod
    def _deliverable_sender(cls, value: str) -> str:
        parse_address(value)  # raises InvalidAddress, a ValueError, naming the value
        return value

    @field_validator("portfolio_report_to")
    @classmethod
    def _address_list(cls, value: str) -> str:
        """Each entry one deliverable address (models/addresses.py), checked when the settings are
        read: a typo is refused before anything is written or sent."""
        for entry in value.split(","):
            if entry.strip():
                parse_address(entry.strip())  # raises InvalidAddress, a ValueError, naming the entry
        return value

    @property
    def portfolio_recipients(self) -> list[tuple[str, str]]:
        """(address, display name) of each ``portfolio_report_to`` entry, each address once
        (compared in lower case), in order."""
        seen: dict[str, tuple[str, str]] = {}
        for entry in self.portfolio_report_to.split(","):
            if entry.strip():
                address = parse_address(entry.strip())
                seen.setdefault(address.addr_spec.lower(), (address.addr_spec, address.display_name))
        return list(seen.values())

    @property
    def unreachable_links(self) -> str | None:
        """Why the links in mail sent through SMTP cannot work for their readers, or None: the
        public URL is empty (the mail then carries no links), left at its default, or names
        this machine (loopback) or no machine at all (0.0.0.0, ::)."""
        if not self.smtp_host:
            return None  # mail written to a folder: a local trial, where loopback is right
        if not self.public_url.strip():
            return (f"ROADMAP_PUBLIC_URL is empty: the emails sent through {self.smtp_host} carry no links; "
                    "set it to the web app's public address")
        host = urlsplit(self.public_url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
            local = address.is_loopback or address.is_unspecified
        except ValueError:
            local = host in ("", "localhost") or host.endswith(".localhost")
        if not local:
            return None
        return (f"ROADMAP_PUBLIC_URL is {self.public_url}, this machine: the links in the emails sent through "
                f"{self.smtp_host} will not open for their readers; set it to the web app's public address")

    @property
    def mail_from_domain(self) -> str:
        """The sender's domain: the right-hand side of every Message-ID we make."""
        return parse_address(self.mail_from).domain

    @property
    def web_secret_key(self) -> str:
        """The key that signs and checks the web app's links. Every way of starting the web app
        (``roadmap web``, ``uvicorn web.app:app_from_environment``, ``create_app`` in tests)
        goes through here, so none starts with no key or a guessable one. Mail may still be
        sent without a key: the messages then simply carry no links."""
        raw = self.secret_key.get_secret_value() if self.secret_key else ""
        if not raw.strip():
            raise UserError(
                "ROADMAP_SECRET_KEY is not set: the web app signs and checks every link with it and will not "
                f"start without one (there is no default). {_HOW_TO_SET_KEY}"
            )
        if len(raw.strip()) < MIN_SECRET_KEY_LENGTH:
            raise UserError(
                f"ROADMAP_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters: anyone could guess it "
                f"and sign their own links. {_HOW_TO_SET_KEY}"
            )
        return raw

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFile(settings_cls, dotenv_settings), file_secret_settings

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def effective_smtp_port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.smtp_security]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI's --db option change the environment; forget the cached object."""
    get_settings.cache_clear()
