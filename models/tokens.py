"""Signed links: which roadmap, task (or risk) and person a link from an email names, and until when.

Purposes: ``task`` (a task page), ``risk`` (a risk page, for its owner or the office),
``view`` (the read-only roadmap page, for a person or a report_to address), ``office`` (the roadmap page and its
report, for the project office), ``calendar`` (a person's feed, revocable, no expiry).

A token is ``<payload>.<signature>``: the payload is base64url JSON naming the roadmap,
the task, the person and the expiry; the signature is HMAC-SHA256 of the payload under
ROADMAP_SECRET_KEY, with a purpose prefix so that a token signed for one use (a task
link) never verifies as another (an office link). Plain stdlib ``hmac``; nothing is stored
server-side, so a link keeps working until it expires or the person loses the right to
the task (``models.delegation.may_update``, checked by the web app: this module only signs
and verifies).

Expiry is computed from the day the mail is *about* (its as-of day), not from the clock,
so rendering the same digest twice gives the same bytes; a link in the digest of day D
works until the end of D + 30 days (UTC).

Why a token is refused (``TokenError.reason``): ``malformed``, ``signature`` (tampered
or signed with another key), ``purpose`` (an office link used as a task link, or back),
``expired``, ``roadmap`` / ``task`` / ``risk`` (a valid token for another roadmap, task or
risk: the "foreign" token), ``person`` (the person is unknown, archived, or no longer entitled).

``TokenError.message`` is what to tell the reader, an English gettext message id (marked
``N_`` for ``pybabel extract``) with ``params`` its values (``expires``: the expiry day), so
that a page says it in the roadmap's language (``web.security.say``); the exception's own
text is the English one, for logs and the CLI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from models.i18n import N_

DEFAULT_DAYS = 30
OFFICE = "@office"  # the person of a token for the project office (an address, not a person row)


DAMAGED = N_("This link is damaged.")
OTHER_ROADMAP = N_("This link belongs to another roadmap.")


class TokenError(Exception):
    def __init__(self, reason: str, message: str, **params: Any):
        super().__init__(message % params)
        self.reason, self.message, self.params = reason, message, params


def expiry_for(as_of: date, days: int = DEFAULT_DAYS) -> datetime:
    """The end of the day ``days`` after ``as_of``, UTC."""
    return datetime.combine(as_of + timedelta(days=days), time(23, 59, 59), tzinfo=UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(secret: str, purpose: str, payload: str) -> str:
    if not secret:
        raise ValueError("a secret key is needed to sign or verify links (ROADMAP_SECRET_KEY)")
    mac = hmac.new(secret.encode(), f"roadmap-office/{purpose}/v1|{payload}".encode(), hashlib.sha256)
    return _b64(mac.digest())


def _dump(secret: str, purpose: str, data: dict[str, Any]) -> str:
    payload = _b64(json.dumps({"k": purpose, **data}, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_sign(secret, purpose, payload)}"


def _load(secret: str, purpose: str, token: str, now: datetime | None) -> dict[str, Any]:
    """The verified payload, or TokenError. The signature is checked before anything in
    the payload is trusted, the expiry (unless ``now`` is None: a token that does not
    expire) before the caller looks at names."""
    payload, dot, signature = (token or "").strip().partition(".")
    if not dot or not payload or not signature:
        raise TokenError("malformed", N_("This link is incomplete: it may have been cut when copied from the email."))
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        raise TokenError("malformed",
                         N_("This link is damaged: it may have been cut when copied from the email.")) from None
    kind = data.get("k")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a pasted link may have some).
    if not hmac.compare_digest(_sign(secret, str(kind), payload).encode(), signature.encode()):
        raise TokenError("signature",
                         N_("This link is not valid: it was changed, or it was not issued by this server."))
    if kind != purpose:
        raise TokenError("purpose", N_("This link is meant for another page."))
    if now is None:
        return data
    try:
        expires = datetime.fromtimestamp(int(data["x"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise TokenError("malformed", DAMAGED) from None
    if now >= expires:
        raise TokenError("expired", N_("This link expired on %(expires)s. The next reminder email brings a fresh one, "
                                       "or ask the project office."), expires=expires.date())
    return data


def sign_task_token(secret: str, roadmap: str, task: str, person: str, expires: datetime) -> str:
    return _dump(secret, "task", {"r": roadmap, "t": task, "p": person, "x": int(expires.timestamp())})


def sign_office_token(secret: str, roadmap: str, expires: datetime) -> str:
    return _dump(secret, "office", {"r": roadmap, "x": int(expires.timestamp())})


def verify_task_token(secret: str, token: str, *, roadmap: str, task: str, now: datetime) -> str:
    """Whose link it is (a person key, or OFFICE) when the token is genuine, unexpired and
    names this roadmap and task."""
    data = _load(secret, "task", token, now)
    if data.get("r") != roadmap:
        raise TokenError("roadmap", OTHER_ROADMAP)
    if data.get("t") != task:
        raise TokenError("task", N_("This link belongs to another task: use the link next to this task in your email."))
    return _person_of(data)


def verify_office_token(secret: str, token: str, *, roadmap: str, now: datetime) -> None:
    """Returns when the token is a genuine, unexpired office link for this roadmap."""
    if _load(secret, "office", token, now).get("r") != roadmap:
        raise TokenError("roadmap", OTHER_ROADMAP)


def sign_risk_token(secret: str, roadmap: str, risk: str, person: str, expires: datetime) -> str:
    """A risk page link (``web/routes_risk.py``) for the risk's owner or the office (OFFICE)."""
    return _dump(secret, "risk", {"r": roadmap, "i": risk, "p": person, "x": int(expires.timestamp())})


def verify_risk_token(secret: str, token: str, *, roadmap: str, risk: str, now: datetime) -> str:
    """Whose link it is (a person key, or OFFICE) when the token is genuine, unexpired and
    names this roadmap and risk."""
    data = _load(secret, "risk", token, now)
    if data.get("r") != roadmap:
        raise TokenError("roadmap", OTHER_ROADMAP)
    if data.get("i") != risk:
        raise TokenError("risk", N_("This link belongs to another risk: use the link next to this risk in your email."))
    return _person_of(data)


ADDRESS_READER = "mailto:"  # the person of a view token for a report_to address that is no person


def address_reader(email: str) -> str:
    """The reader a view token names for a plain address of ``report_to`` (no person key has a colon)."""
    return ADDRESS_READER + email.lower()


def sign_view_token(secret: str, roadmap: str, person: str, expires: datetime) -> str:
    """A read-only roadmap page link (the roadmap link at the foot of a person's mail, and of
    the weekly report's mail: for a plain address there, ``address_reader``)."""
    return _dump(secret, "view", {"r": roadmap, "p": person, "x": int(expires.timestamp())})


def verify_view_token(secret: str, token: str, *, roadmap: str, now: datetime) -> str:
    """The person a genuine, unexpired read-only link of this roadmap was issued to."""
    data = _load(secret, "view", token, now)
    if data.get("r") != roadmap:
        raise TokenError("roadmap", OTHER_ROADMAP)
    return _person_of(data)


def _person_of(data: dict[str, Any]) -> str:
    person = data.get("p")
    if not isinstance(person, str) or not person:
        raise TokenError("malformed", DAMAGED)
    return person


def sign_calendar_token(secret: str, roadmap: str, person: str, generation: int) -> str:
    """A person's calendar feed link (``/calendar/<token>.ics``). It has no expiry: a calendar
    subscribes once and polls for years. It is revoked by raising the person's
    ``calendar_generation`` (``roadmap calendar-link --revoke``), which the web app compares."""
    return _dump(secret, "calendar", {"r": roadmap, "p": person, "g": generation})


def verify_calendar_token(secret: str, token: str) -> tuple[str, str, int]:
    """(roadmap key, person key, generation) of a genuine calendar token; the caller checks
    that the person is live and the generation current."""
    data = _load(secret, "calendar", token, None)
    roadmap, person, generation = data.get("r"), data.get("p"), data.get("g")
    if not isinstance(roadmap, str) or not isinstance(person, str) or not person or type(generation) is not int:
        raise TokenError("malformed", DAMAGED)
    return roadmap, person, generation
