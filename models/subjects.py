"""The short forms mail subjects are made of: the roadmap's short title, and a subject cut to fit.

A subject leads with what the mail is about («3 задачи требуют внимания · ОММ · 2 марта»), then
names the roadmap by its short title, so that an inbox list shows the point, not the roadmap.

Short title: the roadmap file's `roadmap.short_title` (at most SHORT_TITLE_MAX characters) when
given; otherwise derived from the title: the title up to its first colon, bracket or dash
(«Открытая Мастерская Москвы: дорожная карта ...» gives «Открытая Мастерская Москвы»), and when
that is still longer than SHORT_TITLE_MAX, its first words up to that length, cut at a word
boundary and ended with «…». docs/roadmap-format.md says the same.
"""

from __future__ import annotations

import re

from models.text import MAX_SHORT_TITLE as SHORT_TITLE_MAX

SUBJECT_MAX = 100  # no subject is longer (the templates aim at ~70)
ELLIPSIS = "…"

_HEAD_END = re.compile(r"\s*(?::|\(|\[|\s[—–-]\s)")


def short_title(title: str, given: str | None = None) -> str:
    """The roadmap's name in subjects: ``given`` when set, else derived from ``title``."""
    if given and given.strip():
        return " ".join(given.split())
    title = " ".join(title.split())
    head = _HEAD_END.split(title, maxsplit=1)[0].strip() or title
    return cut(head, SHORT_TITLE_MAX)


def cut(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its words up to the limit, ended
    with «…» (a single word longer than the limit is cut inside)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    head = text[:room + 1].rsplit(" ", 1)[0] if " " in text[:room + 1] else text[:room]
    return head[:room].rstrip(" ,;:·—–-") + ELLIPSIS


def fit_subject(subject: str) -> str:
    """A subject of at most SUBJECT_MAX characters, whitespace collapsed: the guarantee that
    holds whatever a title or a user's template says."""
    return cut(subject, SUBJECT_MAX)
