"""What a request must prove before a page is shown: refusals, the CSRF pair and basic auth.

A refusal is an exception (``Refused``) so that any dependency or route can stop a request;
``web/app.py`` turns it into a page in the roadmap's language.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from starlette.responses import Response

from models.tokens import TokenError
from web.strings import STRINGS, text

CSRF_COOKIE = "rm_csrf"
MAX_FORM_BYTES = 64 * 1024  # the longest form is two fields of 2,000 characters and a token
SIGN_IN_HEADERS = {"WWW-Authenticate": 'Basic realm="Roadmap Office", charset="UTF-8"'}


class Refused(Exception):
    """A request the app turns down: the HTTP status, the keys of the page's title (``t_*``)
    and message in ``web/strings.py``, and the message's values."""

    def __init__(self, status: int, title: str, message: str, **params: Any):
        super().__init__(text("en", message, **params))
        self.status, self.title, self.message, self.params = status, title, message, params


def token_refused(exc: TokenError) -> Refused:
    """Why a link does not work, in words the page can translate (a code without words
    here reads as "not valid")."""
    key = f"tok_{exc.code}"
    return Refused(403, "t_link", key if key in STRINGS["en"] else "tok_invalid", **exc.params)


def csrf_for(secret: str, nonce: str, token: str) -> str:
    """The form's CSRF value: HMAC of the browser's nonce (a cookie) and the link's token."""
    mac = hmac.new(secret.encode(), f"csrf|{nonce}|{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def set_nonce(resp: Response, nonce: str, *, secure: bool) -> None:
    resp.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=secure,
                    path="/roadmaps/", max_age=7 * 24 * 3600)


def basic_password(header: str) -> str | None:
    """The password of an ``Authorization: Basic`` header (any user name), or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]
