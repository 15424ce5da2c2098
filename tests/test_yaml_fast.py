"""The fast reader gives exactly PyYAML's values, or steps aside."""

import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models import yaml_fast
from models.loader import load_roadmap, load_roadmap_text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


@pytest.fixture(autouse=True)
def fast_path_for_every_size(monkeypatch):
    """The fast reader normally starts at 200 kB; here it reads small documents too."""
    monkeypatch.setattr(yaml_fast, "FAST_FROM_BYTES", 0)


def test_same_values_as_pyyaml_on_real_files(tmp_path, example_yaml, small_yaml):
    import synth

    big = tmp_path / "synth.yaml"
    synth.write(big, 1000, 50, seed=3)
    for path in (example_yaml, small_yaml, big):
        raw = path.read_bytes()
        assert yaml_fast.load(raw) == yaml.safe_load(raw), path


def test_steps_aside_for_what_it_does_not_handle():
    for doc in (b"a: 1\na: 2\n", b"a: &x 1\nb: *x\n", b"a: !!str 1\n", b"base: &b {x: 1}\nc:\n  <<: *b\n",
                b"a: [1\n", b"", b"--- 1\n--- 2\n",
                b"['\n\n    ', ['0']]\n"):  # quoted over lines: would pair with the quotes of '0'
        try:
            value = yaml_fast.load(doc)
        except yaml_fast.Unsupported:
            continue
        assert value == yaml.safe_load(doc), doc


def test_problems_still_carry_lines(small_yaml):
    """A clean document takes the fast path; one with a warning is re-read with lines."""
    text = small_yaml.read_text().replace("status: done, done_on: 2014-11-06", "status: done")
    loaded = load_roadmap_text(text, "road.yaml")
    assert [w.format() for w in loaded.warnings] == [
        "road.yaml:33: tasks[e].status: warning: task is done but has no 'done_on' date"]
    assert load_roadmap(small_yaml).warnings == []


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=15), st.dates(),
    st.sampled_from(["yes", "No", "~", "0o17", "0x1F", "1_000", "1e3", ".inf", "2014-11-15", "12:30", "=", "<<"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(doc=documents, flow=st.booleans())
def test_random_documents_read_like_pyyaml(doc, flow):
    raw = yaml.safe_dump(doc, allow_unicode=True, default_flow_style=flow).encode()
    try:
        value = yaml_fast.load(raw)
    except yaml_fast.Unsupported:
        return
    assert value == yaml.safe_load(raw)
