"""The messages the web code raises by key, and the history table's words, in the page's language.

The pages' own wording is in the templates (``_()``, models/i18n.py). What is here is said by
code that runs before a page is chosen: a refusal (``Refused``: a title ``t_*`` and a message),
a link that does not work (``TokenError.code`` -> ``tok_*``), a refused form (``FormError``:
``err_*`` with a field label ``l_*``). The code names a message by a stable key (its own text,
for logs, is the English one); ``text`` says it in the page's language through the gettext
catalog. tests/test_i18n.py checks that every message has its Russian translation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from models.i18n import LANGUAGES, format_date, task_status, translations


def N_(message: str) -> str:
    """Marks a message for ``pybabel extract``; translated where it is said (``text``)."""
    return message


MESSAGES: dict[str, str] = {
    # Refused requests (error.html.j2): titles, then messages.
    "t_link": N_("This link does not work"), "t_not_found": N_("Not found"), "t_too_long": N_("Too long"),
    "t_csrf": N_("The form has expired"), "t_sign_in": N_("Sign in"), "t_no_report": N_("No report yet"),
    "tok_incomplete": N_("This link is incomplete: it may have been cut when copied from the email."),
    "tok_damaged_copy": N_("This link is damaged: it may have been cut when copied from the email."),
    "tok_damaged": N_("This link is damaged."),
    "tok_signature": N_("This link is not valid: it was changed, or it was not issued by this server."),
    "tok_purpose": N_("This link is meant for another page."),
    "tok_expired": N_("This link expired on %(expires)s. The next reminder email brings a fresh one, "
                      "or ask the project office."),
    "tok_roadmap": N_("This link belongs to another roadmap."),
    "tok_task": N_("This link belongs to another task: use the link next to this task in your email."),
    "tok_invalid": N_("This link is not valid."),
    "ref_no_roadmap": N_("There is no such roadmap."),
    "ref_task_gone": N_("The task is no longer in the roadmap."),
    "ref_not_responsible": N_("This link was issued to someone who is no longer responsible for this task."),
    "ref_too_long": N_("The text is too long. Nothing was changed."),
    "ref_csrf": N_("This form could not be checked (it is old, or it was sent from another site). "
                   "Open the link from your email again and repeat the change. Nothing was changed."),
    "ref_sign_in": N_("This page is for the project office: sign in with the office password, "
                      "or open the office link."),
    "ref_no_report": N_("No weekly report has been written for this roadmap yet."),
    # Refused forms (web/actions.py FormError): the field's label, then what is wrong.
    "l_done_on": N_("Done on"), "l_note": N_("Note"), "l_forecast": N_("New date"), "l_reason": N_("Reason"),
    "l_away_until": N_("Away until"), "l_delegate": N_("Delegate"), "l_progress": N_("Progress"),
    "l_away": N_("Away"),
    "err_date": N_("%(field)s: give a date (YYYY-MM-DD)"), "err_why": N_("%(field)s: please say why"),
    "err_too_long": N_("%(field)s: at most %(n)s characters"),
    "err_future": N_("%(field)s: that date is in the future"),
    "err_past": N_("%(field)s: that date is in the past"),
    "err_too_old": N_("%(field)s: that date is more than a year before the session (%(session)s): a typo?"),
    "err_progress": N_("%(field)s: give a whole number from 0 to 100"),
    "err_office_away": N_("%(field)s: this link is for the project office, not for a person"),
    "err_delegate_list": N_("%(field)s: choose a person from the list"),
    "err_delegate_self": N_("%(field)s: choose someone else"),
    "err_action": N_("Unknown action. Nothing was changed."), "err_not_saved": N_("Not saved: %(detail)s"),
}

# The history table: a change's field, and where it came from.
FIELDS: dict[str, str] = {
    "added": N_("added"), "archived": N_("archived"), "restored": N_("restored"), "note": N_("note"),
    "status": N_("status"), "progress": N_("progress"), "done_on": N_("done on"), "forecast": N_("forecast"),
    "due": N_("due"), "start": N_("start"), "finish": N_("finish"), "title": N_("title"), "stage": N_("stage"),
    "workstream": N_("workstream"), "owner": N_("owner"), "partners": N_("partners"),
    "depends_on": N_("depends on"), "start_expr": N_("start (as written)"), "due_expr": N_("due (as written)"),
    "duration": N_("duration, business days"), "notes": N_("notes"), "away_until": N_("away until"),
    "delegate": N_("delegate"), "name": N_("name"), "email": N_("email"), "manager": N_("manager"),
    "partner": N_("partner"),
}
SOURCES: dict[str, str] = {
    "web": N_("web"), "cli": N_("command line"), "import": N_("file import"), "schedule": N_("rescheduling"),
}


class _Messages(Mapping[str, str]):
    """The messages above by key in one language (what ``strings(lang)[key]`` gives)."""

    def __init__(self, lang: str):
        self.lang = lang

    def __getitem__(self, key: str) -> str:
        return translations(self.lang).gettext(MESSAGES[key])

    def __iter__(self) -> Iterator[str]:
        return iter(MESSAGES)

    def __len__(self) -> int:
        return len(MESSAGES)


# Kept for web/app.py: ``lang in STRINGS``, ``key in STRINGS["en"]``, ``strings(lang)[title]``.
STRINGS: dict[str, Mapping[str, str]] = {lang: _Messages(lang) for lang in LANGUAGES}


def strings(lang: str) -> Mapping[str, str]:
    """The messages of ``lang``; English for a language the web pages do not speak."""
    return STRINGS.get(lang, STRINGS["en"])


def text(lang: str, key: str, **params: Any) -> str:
    """The message ``key`` in ``lang`` with its values filled in: a ``field`` is a label key
    (``l_*``), a date is written out in the language (models.i18n.format_date)."""
    table = strings(lang)
    values = {}
    for name, value in params.items():
        if name == "field":
            value = table.get(f"l_{value}", value)
        elif isinstance(value, dt.date):
            value = format_date(value, lang)
        values[name] = value
    return table[key] % values if values else table[key]


@lru_cache(maxsize=8)
def _history_words(lang: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    words = translations(lang)
    return ({k: words.gettext(v) for k, v in FIELDS.items()},
            {k: words.gettext(v) for k, v in SOURCES.items()},
            {"True": words.gettext("yes"), "False": words.gettext("no")})


def history_line(change: Any, lang: str, names: dict[str, str]) -> dict[str, str]:
    """One history row as the page shows it: the field's name, its old and new values and
    where the change came from, in ``lang``; ``names`` turns person keys into names.
    A field or value without a word here is shown as stored."""
    lang = lang if lang in STRINGS else "en"
    fields, sources, booleans = _history_words(lang)

    def value(raw: str | None) -> str:
        if raw is None:
            return ""
        if change.field == "status":
            return task_status(raw, lang)
        if change.field in ("owner", "delegate", "manager"):
            return names.get(raw, raw)
        return booleans.get(raw, raw)

    source = sources.get(change.source, change.source)
    return {
        "when": change.at.strftime("%Y-%m-%d %H:%M"),
        "field": fields.get(change.field, change.field),
        "old": value(change.old), "new": value(change.new),
        "by": f"{source}: {change.actor}" if change.actor else source,
        "note": change.note or "",
    }
