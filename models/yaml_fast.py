"""A fast path for reading big roadmap files: rapidyaml parses, PyYAML resolves scalars.

PyYAML needs about a second per two megabytes just to compose nodes, which dominates
importing a 10,000-task roadmap. rapidyaml (a C++ parser) builds the tree and emits it
as JSON in a few tens of milliseconds; the JSON is read by the C json module, and every
scalar text is then resolved with PyYAML's own resolver and constructors (cached per
distinct text), so plain scalars get exactly the values PyYAML gives them. Kept for the
target "re-import of an edited 10,000-task file < 2 s" (bench/bench_import.py; figures in
docs/cli.md, "Fast paths and the targets that need them").

JSON loses the difference between a quoted and a plain scalar. So that a quoted "yes"
or '2014' stays a string, any text that would resolve to something other than a string
and also appears quoted somewhere in the file sends the document to the full reader.
rapidyaml keeps no line numbers either: the loader uses this path only for documents
without any problem and falls back to the full, line-tracking PyYAML reader whenever it
finds an error or a warning, or when this reader meets something it does not handle
(anchors, aliases, tags, merge keys, duplicate keys, escapes, syntax errors); the full
reader refuses anchors, aliases and merge keys (models/roadmap_yaml.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import yaml

from models.roadmap_yaml import read_scalar

try:  # rapidyaml is a regular dependency, but the loader must work without it.
    import ryml
except ImportError:  # pragma: no cover
    ryml = None


class Unsupported(Exception):
    """This document needs the full PyYAML reader."""


_RESOLVER = yaml.SafeLoader("")
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors
_FIRST_CHARS = set(yaml.SafeLoader.yaml_implicit_resolvers) - {None}
# Anchors, aliases and tags start a token (also right after the ':' of a quoted key in flow
# style, {"a":*b}); merge keys are `<<:`. The full reader refuses anchors, aliases and merge keys.
_SPECIAL = re.compile(rb"(?:^|[\s\[{,:])[&*!][^\s,\]}]|<<\s*:", re.MULTILINE)
_QUOTED = re.compile(rb'"([^"\\\n]*)"|\'([^\'\n]*)\'')
# A quoted scalar running over lines would pair the quotes of _QUOTED wrongly.
_OTHER_LINE_BREAKS = re.compile("\x85|\u2028|\u2029".encode())
_QUOTE_OVER_LINES = re.compile(rb"(?:^|[\s\[{,:])(?:'[^'\n]*|\"[^\"\n]*)$", re.MULTILINE)


class _Scalars:
    """Resolves scalar texts like PyYAML does for plain scalars, remembering each text."""

    def __init__(self, data: bytes) -> None:
        self.quoted = {(a or b).decode("utf-8") for a, b in _QUOTED.findall(data)}
        self.cache: dict[str, Any] = {}

    def __call__(self, text: str) -> Any:
        if not text or text[0] not in _FIRST_CHARS:
            return text
        try:
            return self.cache[text]
        except KeyError:
            pass
        tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
        if tag == "tag:yaml.org,2002:str":
            value: Any = text
        elif text in self.quoted:
            raise Unsupported(f"{text!r} appears quoted: cannot tell which occurrences are strings")
        else:  # a value PyYAML cannot build (2014-12-32) is a ScalarError: the full reader reports it
            value = read_scalar(lambda node: _CONSTRUCTORS[tag](_RESOLVER, node), yaml.ScalarNode(tag, text))
        self.cache[text] = value
        return value


def load(data: bytes) -> Any:
    """The document's value, or Unsupported when the full reader is needed."""
    try:
        return _load(data)
    except Unsupported:
        raise
    except Exception as exc:  # never let the fast path fail differently from the full reader
        raise Unsupported(f"{type(exc).__name__}: {exc}") from None


# Below this size PyYAML is fast enough (a 60-task roadmap reads in a few milliseconds).
FAST_FROM_BYTES = 200_000


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml prints its own parse and emit errors to the process's stderr (file descriptor
    2); the loader reports them properly, with the line, from the PyYAML reader."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_STDERR_LOCK = threading.Lock()


def _load(data: bytes) -> Any:
    if ryml is None:
        raise Unsupported("rapidyaml is not installed")
    if len(data) < FAST_FROM_BYTES:
        raise Unsupported("small file: PyYAML is fast enough")
    if _SPECIAL.search(data):
        raise Unsupported("anchors, aliases, tags or merge keys")
    if b"\\" in data:
        raise Unsupported("escape sequences")
    if _QUOTE_OVER_LINES.search(data):
        raise Unsupported("a quoted scalar over several lines")
    if _OTHER_LINE_BREAKS.search(data):
        raise Unsupported("NEL, LS or PS, which PyYAML reads as line breaks")
    try:
        with _quiet_stderr():  # also while emitting: deeper than 64 levels, it prints "max depth exceeded"
            tree = ryml.parse_in_arena(data)
            root = tree.root_id()
            if tree.is_stream(root):
                if tree.num_children(root) != 1:
                    raise Unsupported("not exactly one document")
                root = tree.first_child(root)
            emitted = ryml.emit_json_malloc(tree, root)
        if emitted is None:
            raise Unsupported("empty document")
    except Unsupported:
        raise
    except Exception as exc:  # a syntax error: the full reader reports it with its line
        raise Unsupported(str(exc)) from None
    resolve = _Scalars(data)

    def pairs(items: list[tuple[str, Any]]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in items:
            key = resolve(key)
            if not isinstance(key, (str, int)) or key in out:
                raise Unsupported("duplicate or complex key")
            out[key] = resolve(value) if isinstance(value, str) else value
        return out

    def number(text: str) -> Any:
        return resolve(text)

    try:
        value = json.loads(emitted, object_pairs_hook=pairs, parse_float=number, parse_int=number,
                           parse_constant=number)
    except (ValueError, RecursionError) as exc:
        raise Unsupported(f"not representable as JSON: {exc}") from None
    if isinstance(value, list):
        value = [resolve(v) if isinstance(v, str) else v for v in value]
    elif isinstance(value, str):
        value = resolve(value)
    return _resolve_lists(value, resolve)


def _resolve_lists(value: Any, resolve: _Scalars) -> Any:
    """Strings inside lists (object values were resolved by the pairs hook)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (list, dict)):
                value[k] = _resolve_lists(v, resolve)
        return value
    if isinstance(value, list):
        return [
            resolve(v) if isinstance(v, str) else _resolve_lists(v, resolve) if isinstance(v, (list, dict)) else v
            for v in value
        ]
    return value
