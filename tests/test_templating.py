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


def test_an_environment_with_other_settings_never_runs_code_compiled_for_another(tmp_path):
    """Jinja alone keys its cache by template name and file: an autoescaping environment then
    ran code compiled without escaping."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.html.j2").write_text("{{ text }}")
    cache = _BytecodeCache(str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    for escape, expected in ((False, "<b>"), (True, "&lt;b&gt;")):
        env = environment(jinja2.FileSystemLoader(tmp_path / "t"), autoescape=escape)
        env.bytecode_cache = cache
        assert env.get_template("x.html.j2").render(text="<b>", lang="en") == expected


def test_a_damaged_entry_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    env = environment(_loader(tmp_path), autoescape=False)
    env.bytecode_cache = _BytecodeCache(str(cache))
    env.get_template("hello.txt.j2")
    [entry] = cache.iterdir()
    from jinja2.bccache import bc_magic

    entry.write_bytes(bc_magic + b"not a pickle")
    again = environment(jinja2.FileSystemLoader(tmp_path / "t"), autoescape=False)
    again.bytecode_cache = _BytecodeCache(str(cache))
    assert again.get_template("hello.txt.j2").render(name="Ann", lang="en") == "Hello, Ann"
