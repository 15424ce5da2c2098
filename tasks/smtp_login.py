"""Connecting and logging in to the SMTP server through yagmail (see docs/mail.md).

Three ways to log in: a password (ROADMAP_SMTP_PASSWORD), else the keyring entry that
``yagmail.register(user, password)`` stores, or yagmail's OAuth2 file for a Google account.
Unlike yagmail's own fall-backs, nothing here ever prompts on the terminal: a scheduled run
would hang. Settings that cannot log in raise ``LoginSetupError``, which no retry can fix.
"""

from __future__ import annotations

import contextlib
import functools
import json
import ssl
import urllib.error
from pathlib import Path
from typing import Literal

import keyring
import keyring.errors
import yagmail

Security = Literal["none", "starttls", "ssl"]

# yagmail's service name in the keyring, so `yagmail.register(user, password)` stores it.
KEYRING_SERVICE = "yagmail"
_OAUTH2_KEYS = ("google_client_id", "google_client_secret", "google_refresh_token")


class LoginSetupError(Exception):
    """The settings cannot log in as they are: no password, no keyring, a bad OAuth2 file."""


def keyring_password(user: str) -> str:
    """The password stored for ``user`` under yagmail's service name."""
    why = f"no keyring entry for service {KEYRING_SERVICE!r}"
    try:
        found = keyring.get_password(KEYRING_SERVICE, user)
    except keyring.errors.KeyringError as exc:  # NoKeyringError on a server without one
        found, why = None, f"keyring unavailable: {type(exc).__name__}"
    if found is None:
        raise LoginSetupError(f"no SMTP password for user {user!r} ({why}); "
                              "set ROADMAP_SMTP_PASSWORD or store it with yagmail.register()")
    return found


def checked_oauth2_file(path: Path) -> Path:
    """The OAuth2 file, if it holds a refresh token. For a missing or incomplete file yagmail
    would start its interactive set-up (input() on the terminal)."""
    try:
        info = json.loads(path.read_text())
        missing = [k for k in _OAUTH2_KEYS if not (isinstance(info, dict) and info.get(k))]
        why = f"missing {', '.join(missing)}"
    except (OSError, ValueError) as exc:
        missing, why = list(_OAUTH2_KEYS), f"{type(exc).__name__}: {exc}"
    if missing:
        raise LoginSetupError(f"ROADMAP_SMTP_OAUTH2_FILE {path} is not a usable yagmail OAuth2 file "
                              f"({why}); create it once interactively, see docs/mail.md")
    return path


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """TLS settings that check the server's certificate (smtplib's own default does not), made
    once per process and shared by every connection: loading the system's CA certificates
    takes about 18 ms of CPU, which each connection of each batch used to pay, with
    ``security=none`` too. A process started before the system's CA certificates changed
    goes on with the old ones until it is restarted."""
    return ssl.create_default_context()


def yagmail_client(host: str, port: int, security: Security, *, user: str | None,
                   password: str | None, oauth2_file: Path | None, timeout: float,
                   tls_context: ssl.SSLContext | None) -> yagmail.SMTP:
    """A yagmail client, not yet connected, logging in with OAuth2 when given a file, else
    with ``password`` (no login without a user); TLS with ``tls_context`` or else
    ``default_tls_context()``."""
    common: dict[str, object] = {
        "host": host, "port": port, "smtp_ssl": security == "ssl",
        "soft_email_validation": False, "timeout": timeout,
    }
    if security != "none":
        tls_context = tls_context or default_tls_context()
    if security == "ssl":
        common["context"] = tls_context
    if oauth2_file is not None:
        # yagmail's OAuth2 login starts TLS without a certificate check, and not at all for
        # STARTTLS options like ours, so only implicit TLS with our context is safe.
        if security != "ssl":
            raise LoginSetupError("OAuth2 needs ROADMAP_SMTP_SECURITY=ssl (smtp.gmail.com, port 465)")
        yag = yagmail.SMTP(user=user, oauth2_file=str(checked_oauth2_file(oauth2_file)),
                           smtp_starttls=False, **common)
    else:
        starttls = {"context": tls_context} if security == "starttls" else False
        yag = yagmail.SMTP(user=user, password=password, smtp_starttls=starttls,
                           smtp_skip_login=user is None, **common)
    if user is not None:
        yag.user = user  # yagmail appends "@gmail.com" to a name without "@"
    return yag


def log_in(yag: yagmail.SMTP) -> None:
    """Connect and log in; Google refusing the OAuth2 refresh token is a LoginSetupError.
    On failure the half-open connection is dropped without QUIT, so its errors cannot hide
    the real one."""
    try:
        yag.login()
    except BaseException as exc:
        yag.is_closed = True  # so yagmail's __del__ does not try to QUIT either
        if yag.smtp is not None:
            with contextlib.suppress(OSError):
                yag.smtp.close()
        if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
            raise LoginSetupError(f"OAuth2 token refresh for {yag.user!r} refused by Google: "
                                  f"{exc.code} {exc.reason}") from None
        raise
