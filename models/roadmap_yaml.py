"""Roadmap YAML with the line of every key (PyYAML's C parser), and the problems found in it.

Duplicate keys are problems, not silent overwrites; a problem names its file, line and
path (`tasks[t12].due`). Anchors (`&name`), aliases (`*name`) and merge keys (`<<`) are
refused before anything is built from them: nine levels of nine aliases in 2.5 KB would
otherwise expand to a billion values (docs/roadmap-format.md, "YAML"). A text search finds
what may be one and the parser's events say for sure, at its line; while the document is
converted, a list or mapping met twice (an alias the search missed) is refused too.

Scalars are built one by one (``read_scalar``): a value YAML cannot make into what it looks
like (``2014-12-32``, ``25:00``, a 5,000-digit number) is a problem at its own line and key,
every one of them in one run, and the value is left out of the checks that follow. Lists and
mappings nested deeper than MAX_DEPTH are refused at the line where they pass it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from models.problems import Problem, RoadmapInvalid

Path_ = tuple[str | int, ...]
# Where an anchor or alias may start: a line's start, after a space or a flow indicator, or
# after the ':' of a quoted key in flow style ({"a":*b}). Also matches text like "Q &A": the
# parser's events then decide.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[{,:])[&*][^\s,\]}]", re.MULTILINE)
_MERGE = "tag:yaml.org,2002:merge"
NO_ALIASES = "anchors and aliases are not allowed in roadmap files (nor merge keys): write the values out"
# A roadmap nests five levels at most (tasks[].partners[]); the limit is far from that and far
# below what would exhaust Python's recursion (about 1,000) while converting.
MAX_DEPTH = 50
# No number in a roadmap comes near this; Python refuses to print an integer of 4,300 digits.
MAX_NUMBER_CHARS = 100
_KIND = {"tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number",
         "tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:bool": "true or false"}
# Python's own words for an impossible date or time are plain enough to show ("day is out of
# range for month", "hour must be in 0..23"); anything else gets ours.
_PLAIN_REASON = re.compile(r"(year|month|day|hour|minute|second) "
                           r"(is out of range(?: for month)?|must be in \d+\.\.\d+)")


class ScalarError(Exception):
    """A scalar YAML cannot make into the value it looks like; the message says why."""


class Unreadable:
    """Stands for a value that could not be read (a problem already says why): no model accepts
    it, and the reader drops the problems that follow at its path."""

    def __repr__(self) -> str:
        return "(unreadable)"


def read_scalar(construct: Callable[[yaml.ScalarNode], Any], node: yaml.ScalarNode) -> Any:
    """The value of a scalar node, or ScalarError("cannot read '...' as a date: ...")."""
    kind = _KIND.get(node.tag, "a value")
    if kind == "a number" and len(node.value) > MAX_NUMBER_CHARS:
        raise ScalarError(f"cannot read {_shortened(node.value)} as a number: a number has at most "
                          f"{MAX_NUMBER_CHARS} characters")
    try:
        return construct(node)
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
        plain = _PLAIN_REASON.search(str(exc)) if isinstance(exc, ValueError) else None
        if plain:
            why = plain.group()
        elif "offset must be a timedelta" in str(exc):
            why = "a time zone offset must be less than 24 hours"
        else:
            why = {"a number": "not a number", "a date": "use YYYY-MM-DD",
                   "true or false": "use true or false"}.get(kind, "not a valid value")
        raise ScalarError(f"cannot read {_shortened(node.value)} as {kind}: {why}") from None


def _shortened(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:24] + '...' + text[-8:]!r} ({len(text):,} characters)"


class Reader:
    """Collects the problems of one file; remembers the line of every key it read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.data: Any = None  # the document, once read: paths render with the keys of list items
        self.unreadable: set[Path_] = set()  # values read as Unreadable: later problems there are noise
        self._text, self._seen = "", set[int]()  # while reading: the nodes met (see _visit)
        self._pending: list[tuple[int, Path_, str, str]] | None = None  # while reading (see read)

    def problem(self, path: Path_, message: str, severity: str = "error", line: int | None = None) -> None:
        if path in self.unreadable:
            return
        if self._pending is not None:  # the path is rendered once the document is there
            self._pending.append((line or self.line_of(path), path, message, severity))
            return
        self.problems.append(
            Problem(line or self.line_of(path), render_path(path, self.data), message, severity, self.file)
        )

    def missing(self, path: Path_) -> None:
        """A required key left out: a problem at the mapping that lacks it."""
        self.problem(path[:-1], f"missing required key {path[-1]!r}")

    def place(self, path: Path_) -> str:
        """Where ``path`` is, for a message that points at another value ("first at line 12")."""
        return f"line {self.line_of(path)}"

    def line_of(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def read(self, text: str) -> Any:
        """The document's plain value, with the line of every key; a YAML error is a
        RoadmapInvalid naming its line."""
        loader = yaml.CSafeLoader(text)
        try:
            if _MAYBE_ANCHOR.search(text):  # ~35 ms on 2 MB; then the events tell for sure
                self._refuse_anchors(text)
            node = loader.get_single_node()
            if node is None:
                return None
            self._text, self._seen, self._pending = text, set(), []
            self.data = self._convert(loader, node, (), 0)
            pending, self._pending = self._pending, None
            self.problems += [Problem(line, render_path(path, self.data), message, severity, self.file)
                              for line, path, message, severity in pending]
            return self.data
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
            raise RoadmapInvalid([Problem(line, "(yaml)", f"YAML syntax error: {msg}", "error", self.file)]) from None
        except yaml.reader.ReaderError as exc:  # a character YAML does not allow in a file, e.g. a raw ESC
            line = text.count("\n", 0, exc.position) + 1
            what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "byte"
            raise RoadmapInvalid([Problem(line, "(yaml)", f"a {what} that is not allowed in a YAML file (a control "
                                          "character?); remove it", "error", self.file)]) from None
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RoadmapInvalid([Problem(1, "(yaml)", f"YAML error: {first}", "error", self.file)]) from None
        except (ValueError, TypeError, OverflowError):  # in a key that is a list or mapping (scalars: read_scalar)
            raise RoadmapInvalid([Problem(1, "(yaml)", "cannot read a key that is a list or mapping", "error",
                                          self.file)]) from None
        finally:
            self._pending = None
            loader.dispose()

    def _refuse_anchors(self, text: str) -> None:
        """RoadmapInvalid at the first anchor or alias, read from the parser's events: nothing
        is composed, let alone expanded."""
        found = _first_anchor(text)
        if found is not None:
            self._refuse(*found)

    def _visit(self, node: yaml.Node) -> None:
        """Refuses a list or mapping met before: the composer hands an alias the very node its
        anchor made, so this is an alias the text search missed, and nothing was expanded yet.
        (An aliased scalar cannot expand; the text search refuses it.)"""
        if id(node) in self._seen:
            self._refuse(*(_first_anchor(self._text) or (node.start_mark.line + 1, "an alias")))
        self._seen.add(id(node))

    def _visit_key(self, node: yaml.Node, depth: int) -> None:
        """A key that is a list or mapping is built whole: all of it is visited first."""
        stack = [(node, depth)]
        while stack:
            item, at = stack.pop()
            if not isinstance(item, yaml.ScalarNode):
                self._check_depth(item, at)
            if isinstance(item, yaml.SequenceNode):
                self._visit(item)
                stack += ((n, at + 1) for n in item.value)
            elif isinstance(item, yaml.MappingNode):
                self._visit(item)
                stack += ((n, at + 1) for pair in item.value for n in pair)

    def _check_depth(self, node: yaml.Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            why = f"lists and mappings nested more than {MAX_DEPTH} deep; a roadmap needs five levels at most"
            raise RoadmapInvalid([Problem(node.start_mark.line + 1, "(yaml)", why, "error", self.file)])

    def _refuse(self, line: int, what: str) -> None:
        raise RoadmapInvalid([Problem(line, "(yaml)", f"{what}: {NO_ALIASES}", "error", self.file)])

    def _convert(self, loader: Any, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode):
            self._check_depth(node, depth)
        if isinstance(node, yaml.MappingNode):
            self._visit(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    self._refuse(key_node.start_mark.line + 1, "a merge key '<<'")
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode):
                    key = self._scalar(loader, key_node, path, line)
                else:
                    self._visit_key(key_node, depth + 1)
                    key = str(loader.construct_object(key_node, deep=True))
                sub = path + (key,)
                if key in out:
                    self.problem(sub, f"duplicate key (first at line {self.lines[sub]})", line=line)
                    continue
                self.lines[sub] = line
                out[key] = self._convert(loader, value_node, sub, depth + 1)
                self.lines[sub] = line  # the value's own line was recorded under the same path
            return out
        if isinstance(node, yaml.SequenceNode):
            self._visit(node)
            return [self._convert(loader, item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(loader, node, path)

    def _scalar(self, loader: Any, node: Any, path: Path_, key_line: int | None = None) -> Any:
        """A value, or Unreadable with a problem at its line; for a key (``key_line``) its text."""
        try:
            return read_scalar(lambda n: loader.construct_object(n, deep=True), node)
        except ScalarError as exc:
            where = path + (node.value,) if key_line else path
            self.problem(where, str(exc), line=key_line or node.start_mark.line + 1)
            self.unreadable.add(where)
            return node.value if key_line else Unreadable()


def _first_anchor(text: str) -> tuple[int, str] | None:
    """The line of the first anchor or alias of the document, and what it is."""
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        anchor = getattr(event, "anchor", None)  # aliases, scalars and collections have one
        if anchor:
            line = event.start_mark.line + 1 if event.start_mark else 1
            return line, f"an alias '*{anchor}'" if isinstance(event, yaml.AliasEvent) else f"an anchor '&{anchor}'"
    return None


def render_path(path: Path_, data: Any = None) -> str:
    """`tasks[t12].due` when the list item has a key, else `tasks[3].due`."""
    out, node = "", data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = node.get("key") if isinstance(node, dict) else None
            out += f"[{label if isinstance(label, int) or _plain(label) else part}]"
        else:
            out += ("." if out else "") + (str(part) if _plain(part) or not isinstance(part, str) else _quoted(part))
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(document)"


def _plain(part: object) -> bool:
    # A key written with escapes ("\e[2J") must not reach the terminal as a control sequence,
    # nor a megabyte-long one fill it.
    return isinstance(part, str) and part.isprintable() and len(part) <= 100


def _quoted(part: str) -> str:
    return repr(part) if len(part) <= 100 else repr(part[:100]) + "..."
