"""The wording of the mail: the macros of ``mail/_phrases.j2`` given to every mail template
as ``t`` (tasks/render_mail.py ``_render_three``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Phrases:
    """The macros of ``mail/_phrases.j2`` as functions that return plain ``str``.

    Why not ``{% import %}`` in each template: Jinja marks a macro's output as safe
    markup when it is called from an autoescaped template, although _phrases.j2 itself
    was compiled without escaping, so a task title would reach the HTML part raw.
    Returned as a plain str, the HTML part escapes it on output and the text part
    prints it as it is.

    A user's ``_phrases.j2`` (ROADMAP_TEMPLATE_DIR) copied from an older version lacks the
    phrases added since: those come from the built-in file (``builtin`` makes its module), so
    an upgrade does not stop that user's mail."""

    def __init__(self, module: Any, builtin: Callable[[], Any] | None = None):
        self._module = module
        self._builtin = builtin
        self._builtin_module: Any = None
        self._said: dict[Any, str] = {}  # the text part and the HTML part say the same things

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a phrase (copy, pickle and the like ask for these)
            raise AttributeError(name)
        try:
            macro = getattr(self._module, name)
        except AttributeError:
            if self._builtin is None:
                raise
            if self._builtin_module is None:
                self._builtin_module = self._builtin()
            macro = getattr(self._builtin_module, name)

        def say(*args: Any, **kwargs: Any) -> str:
            try:
                key = (name, args, tuple(sorted(kwargs.items())))
                return self._said[key]
            except KeyError:
                text = self._said[key] = str(macro(*args, **kwargs))
                return text
            except TypeError:  # an argument that cannot be a key (a list, a dict)
                return str(macro(*args, **kwargs))

        return say
