"""Problems found in a roadmap file, each pointing at a file, a place and a key path.

The place is a line in a YAML file (``plan.yaml:12``) and a cell in a workbook
(``plan.xlsx:Задачи!E12``, ``where``); ``line`` then only orders the problems."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    path: str
    message: str
    severity: str = "error"  # error | warning
    file: str = field(default="", compare=False)
    where: str = field(default="", compare=False)  # a workbook's cell, "Задачи!E12"; a YAML file's: ""

    def format(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.where or self.line}: {self.path}: {prefix}{self.message}"


class RoadmapInvalid(Exception):
    """The file has errors; nothing was changed. Carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(f"{len(self.errors)} error(s) in roadmap file")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def did_you_mean(value: str, choices: Iterable[str], prefix: str = "") -> str:
    """The hint for a mistyped name: " (did you mean 'x'?)" with the closest choice, or ""."""
    guess = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean {prefix + guess[0]!r}?)" if guess else ""
