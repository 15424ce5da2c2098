"""Roadmap YAML with the line of every key (PyYAML's C parser), and the problems found in it.

Duplicate keys are problems, not silent overwrites; a problem names its file, line and
path (`tasks[t12].due`). Anchors (`&name`), aliases (`*name`) and merge keys (`<<`) are
refused before anything is built from them: nine levels of nine aliases in 2.5 KB would
otherwise expand to a billion values (docs/roadmap-format.md, "YAML"). A text search finds
what may be one and the parser's events say for sure, at its line; while the document is
converted, a list or mapping met twice (an alias the search missed) is refused too.
"""

from __future__ import annotations

import re
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


class Reader:
    """Collects the problems of one file; remembers the line of every key it read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.data: Any = None  # the document, once read: paths render with the keys of list items
        self._text, self._seen = "", set[int]()  # while reading: the nodes met (see _visit)

    def problem(self, path: Path_, message: str, severity: str = "error", line: int | None = None) -> None:
        self.problems.append(
            Problem(line or self.line_of(path), render_path(path, self.data), message, severity, self.file)
        )

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
            self._text, self._seen = text, set()
            return self._convert(loader, node, ())
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
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp like 2014-13-45
            raise RoadmapInvalid([Problem(1, "(yaml)", f"cannot read a value: {exc}", "error", self.file)]) from None
        finally:
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

    def _visit_key(self, node: yaml.Node) -> None:
        """A key that is a list or mapping is built whole: all of it is visited first."""
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, yaml.SequenceNode):
                self._visit(item)
                stack += item.value
            elif isinstance(item, yaml.MappingNode):
                self._visit(item)
                stack += (n for pair in item.value for n in pair)

    def _refuse(self, line: int, what: str) -> None:
        raise RoadmapInvalid([Problem(line, "(yaml)", f"{what}: {NO_ALIASES}", "error", self.file)])

    def _convert(self, loader: Any, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._visit(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    self._refuse(key_node.start_mark.line + 1, "a merge key '<<'")
                if not isinstance(key_node, yaml.ScalarNode):
                    self._visit_key(key_node)
                key = loader.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    key = str(key)
                sub, line = path + (key,), key_node.start_mark.line + 1
                if key in out:
                    self.problem(sub, f"duplicate key (first at line {self.lines[sub]})", line=line)
                    continue
                self.lines[sub] = line
                out[key] = self._convert(loader, value_node, sub)
                self.lines[sub] = line  # the value's own line was recorded under the same path
            return out
        if isinstance(node, yaml.SequenceNode):
            self._visit(node)
            return [self._convert(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)


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
