"""The one rule for text: every string of a roadmap file (through the types below, used by
models/spec.py), of a web form (web/actions.py) and of a CLI option (cli/main.py).

Text is refused, never cleaned, when it holds a character that breaks an output: a control
character makes lxml refuse the weekly DOCX, moves the terminal's cursor or changes its
colours, and PostgreSQL refuses NUL; a bidi override makes a title read backwards. Lengths are
bounded so that one value cannot make every mail megabytes long. docs/roadmap-format.md, "Text".
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from models.errors import UserError

MAX_LINE = 300  # titles, names and every other one-line value
MAX_NOTE = 10_000  # notes, goals and mitigations, which may have several lines
MAX_FORM_NOTE = 2_000  # a note typed in a web form (web/actions.py; docs/web.md): one request stays small
MAX_EXPR = 100  # a date expression or a duration ("stage.s1.end + 3bd")
MAX_EMAIL = 254  # the longest address SMTP carries (RFC 5321's path less its brackets)

# C0 controls but tab and line feed, DEL, C1 controls, the Unicode line and paragraph
# separators, bidi embeddings, overrides and isolates, lone surrogates (they cannot be
# written as UTF-8) and the two non-characters XML refuses.
_NEVER = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_NOT_IN_NOTE = re.compile(f"[{_NEVER}]")
_NOT_IN_LINE = re.compile(f"[\t\n{_NEVER}]")


def text_error(value: str, *, multiline: bool = False, limit: int | None = None) -> str | None:
    """Why ``value`` is not acceptable text, or None. One line unless ``multiline``; at most
    ``limit`` characters (default MAX_NOTE for several lines, MAX_LINE for one)."""
    limit = limit or (MAX_NOTE if multiline else MAX_LINE)
    if len(value) > limit:
        return f"at most {limit:,} characters, got {len(value):,}"
    bad = (_NOT_IN_NOTE if multiline else _NOT_IN_LINE).search(value)
    if bad is None:
        return None
    char, at = bad.group(), bad.start() + 1
    if char in "\t\n":
        return f"must be one line: {'a tab' if char == chr(9) else 'a line break'} at character {at}"
    return f"control and bidi characters are not allowed: U+{ord(char):04X} at character {at}"


def _one_line(value: str) -> str:
    # The length was checked before (StringConstraints), in bounded time.
    if (why := text_error(value, limit=len(value) or 1)) is not None:
        raise PydanticCustomError("text", why)
    return value


def _lines(value: str) -> str:
    if (why := text_error(value, multiline=True, limit=len(value) or 1)) is not None:
        raise PydanticCustomError("text", why)
    return value


Line = Annotated[str, StringConstraints(max_length=MAX_LINE), AfterValidator(_one_line)]  # may be empty
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LINE), AfterValidator(_one_line)]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE), AfterValidator(_lines)]
Expr = Annotated[str, StringConstraints(max_length=MAX_EXPR), AfterValidator(_one_line)]
Email = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EMAIL), AfterValidator(_one_line)]
MAX_SHORT_TITLE = 40  # a roadmap's short title, in mail subjects (models/subjects.py)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SHORT_TITLE), AfterValidator(_one_line)]


def checked_note(value: str | None, option: str) -> str | None:
    """A CLI option's text (``--note``, ``--mitigation``) under the rule for notes, or a
    UserError naming the option."""
    if value is not None and (why := text_error(value, multiline=True)) is not None:
        raise UserError(f"{option}: {why}")
    return value


def printable(value: str) -> str:
    """``value`` for a terminal: each character the rule refuses (kept in a database from
    before the rule) shown as U+FFFD instead of moving the cursor or changing colours."""
    return _NOT_IN_NOTE.sub("\ufffd", value)
