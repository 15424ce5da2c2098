"""The one settings object: environment variables with the ROADMAP_ prefix.

Values come, in order of precedence, from the environment, then from an optional
TOML/env file named by ROADMAP_CONFIG_FILE (see config/roadmap.example.env), then
from the defaults below. Secrets (the SMTP password, the web secret key) are read
from the environment or the system keyring only and are held as SecretStr so they
never show up in a repr, a log line or a dry-run.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.addresses import parse_address

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROADMAP_",
        env_file=os.environ.get("ROADMAP_CONFIG_FILE") or None,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        default="sqlite:///var/roadmap.db",
        description="SQLAlchemy URL of the application database.",
    )

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_timeout: float = 30.0
    smtp_oauth2_file: Path | None = Field(
        default=None,
        description="yagmail's OAuth2 file for a Google account, used instead of a password.",
    )
    mail_from: str = Field(
        default="roadmap-office@example.org",
        description='The sender: "addr@host" or "Display Name <addr@host>".',
    )
    mail_max_attempts: int = Field(default=5, ge=1)

    outbox_dir: Path = Path("var/outbox")
    reports_dir: Path = Path("var/reports")
    template_dir: Path | None = Field(
        default=None,
        description="A folder whose templates override the built-in ones, file by file.",
    )
    report_template: Path | None = None
    report_max_rows: int = Field(default=25, ge=1)

    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"

    @field_validator("smtp_host", "smtp_user", "smtp_oauth2_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mail_from")
    @classmethod
    def _deliverable_sender(cls, value: str) -> str:
        parse_address(value)  # raises InvalidAddress, a ValueError, naming the value
        return value

    @property
    def mail_from_domain(self) -> str:
        """The sender's domain: the right-hand side of every Message-ID we make."""
        return parse_address(self.mail_from).domain

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
