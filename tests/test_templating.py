"""models/templating.py: templates compiled once per machine; a cache that cannot be written is
no cache, not an error."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from models.templating import _BytecodeCache, environment


def _loader(tmp_path: Path) -> jinja2.FileSystemLoader:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "hello.txt.j2").write_text("{{ _('Hello') }}, {{ name }}")
    return jinja2.FileSystemLoader(tmp_path / "t")


def test_a_second_process_loads_the_compiled_template_instead_of_compiling_it(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    first = environment(_loader(tmp_path), autoescape=False)
    first.bytecode_cache = _BytecodeCache(str(cache))
    assert first.get_template("hello.txt.j2").render(name="Ann", lang="en") == "Hello, Ann"
    assert len(list(cache.iterdir())) == 1

    second = environment(jinja2.FileSystemLoader(tmp_path / "t"), autoescape=False)
    second.bytecode_cache = _BytecodeCache(str(cache))
    monkeypatch.setattr(second, "compile", lambda *a, **k: pytest.fail("compiled again"))
    assert second.get_template("hello.txt.j2").render(name="Bob", lang="en") == "Hello, Bob"


def test_a_cache_that_cannot_be_written_is_no_cache_not_an_error(tmp_path):
    env = environment(_loader(tmp_path), autoescape=False)
    env.bytecode_cache = _BytecodeCache(str(tmp_path / "gone"))  # writing there fails (OSError)
    assert env.get_template("hello.txt.j2").render(name="Ann", lang="en") == "Hello, Ann"
