"""What a request must prove before a page is shown: refusals, the CSRF pair and basic auth.

A refusal is an exception (``Refused``) so that any dependency or route can stop a request;
``web/app.py`` turns it into a page in the roadmap's language. Its words, like those of a
refused form (``web.actions.FormError``) and of a link that does not work
(``models.tokens.TokenError``), are English gettext message ids marked ``N_`` where they are
raised, and ``say`` translates them once the page's language is known.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

from models.i18n import N_, format_date, translations

CSRF_COOKIE = "rm_csrf"
SIGN_IN_HEADERS = {"WWW-Authenticate": 'Basic realm="Roadmap Office", charset="UTF-8"'}


def say(lang: str, message: str, **params: Any) -> str:
    """``message`` in ``lang`` with its values filled in: a ``field`` is a label (a message
    id too), a date is written out in the language (models.i18n.format_date)."""
    words = translations(lang)
    for name, value in params.items():
        if name == "field":
            params[name] = words.gettext(value)
        elif isinstance(value, dt.date):
            params[name] = format_date(value, lang)
    return words.gettext(message) % params


class Refused(Exception):
    """A request the app turns down: the HTTP status, the page's title and message (message
    ids, see ``say``), the message's values and any headers the response needs (Retry-After)."""

    def __init__(self, status: int, title: str, message: str, *, headers: dict[str, str] | None = None,
                 **params: Any):
        super().__init__(say("en", message, **params))
        self.status, self.title, self.message, self.params = status, title, message, params
        self.headers = headers or {}


def link_refused(message: str, **params: Any) -> Refused:
    """The refusal of a link that does not work; ``message`` says why."""
    return Refused(403, N_("This link does not work"), message, **params)


def csrf_for(secret: str, nonce: str, token: str) -> str:
    """The form's CSRF value: HMAC of the browser's nonce (a cookie) and the link's token."""
    mac = hmac.new(secret.encode(), f"csrf|{nonce}|{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def basic_password(header: str) -> tuple[str, str | None]:
    """The user name and password of an ``Authorization: Basic`` header; ("", None) when it is not one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return "", None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "", None
    user, _, password = decoded.partition(":")
    return user, password


def same_password(given: str, password: str) -> bool:
    """Compared in constant time, of the digests so that not even the length shows."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(password.encode()).digest())
