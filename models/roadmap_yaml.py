"""Roadmap YAML with the line of every key (PyYAML's C parser), and the problems found in it.

Duplicate keys are problems, not silent overwrites; a problem names its file, line and
path (`tasks[t12].due`).
"""

from __future__ import annotations

from typing import Any

import yaml

from models.problems import Problem, RoadmapInvalid

Path_ = tuple[str | int, ...]


class Reader:
    """Collects the problems of one file; remembers the line of every key it read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.data: Any = None  # the document, once read: paths render with the keys of list items

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
            node = loader.get_single_node()
            return None if node is None else self._convert(loader, node, ())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
            raise RoadmapInvalid([Problem(line, "(yaml)", f"YAML syntax error: {msg}", "error", self.file)]) from None
        except yaml.YAMLError as exc:
            raise RoadmapInvalid([Problem(1, "(yaml)", f"YAML error: {exc}", "error", self.file)]) from None
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp like 2014-13-45
            raise RoadmapInvalid([Problem(1, "(yaml)", f"cannot read a value: {exc}", "error", self.file)]) from None
        finally:
            loader.dispose()

    def _convert(self, loader: Any, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
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
            return [self._convert(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)


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
