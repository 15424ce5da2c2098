"""Problems found in a roadmap file, each pointing at a file, a line and a key path."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    path: str
    message: str
    severity: str = "error"  # error | warning
    file: str = field(default="", compare=False)

    def format(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}: {self.path}: {prefix}{self.message}"


class RoadmapInvalid(Exception):
    """The file has errors; nothing was changed. Carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in roadmap file")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]
