"""Hostile roadmap files (issue 11, points 1-4)."""

from __future__ import annotations

from pathlib import Path

from attacks import attack, cli

BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["roadmap: *i"]
) + "\n"


@attack("yaml alias bomb: validate", __name__)
def alias_bomb(tmp: Path) -> str:
    (tmp / "bomb.yaml").write_text(BOMB)
    return cli("validate", "bomb.yaml")
