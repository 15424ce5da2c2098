"""Validation: every mistake at once, each with file:line and a key path."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.loader import load_roadmap, load_roadmap_text
from models.problems import RoadmapInvalid

BROKEN = """\
roadmap:
  key: demo
  title: Demo
  session: {date: 2014-11-15, place: Moscow}
  office: {name: PMO, email: pmo@example.org}
  timezon: Europe/Moscow
people:
  - {key: alice, name: Alice, email: alice@example.org, manager: bob}
  - {key: bob, name: Bob, email: bob-at-example.org}
  - {key: bob, name: Bob2, email: bob2@example.org}
stages:
  - {key: s1, title: S1, start: session + 1bd, end: 2014-12-31}
  - {key: s2, title: S2, start: 2015-01-10, end: 2015-01-01}
tasks:
  - {key: t1, title: T1, stage: s1, owner: alice, duration: 5}
  - {key: t3, title: T3, stage: s1, owner: alise, duration: 5, depends_on: [t7]}
  - {key: t7, title: T7, stage: s1, owner: alice, duration: 5, depends_on: [t3]}
  - {key: t8, title: T8, stage: s9, owner: alice, due: tomorrow}
  - key: t9
    title: T9
    stage: s1
    owner: alice
    due: 2014-11-20
    status: done
    progres: 50
risks:
  - {key: r1, title: R1, owner: alice, probability: 7, impact: 3}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(text, "road.yaml")
    return [p.format() for p in info.value.problems]


def test_every_mistake_is_reported_with_file_line_and_key():
    got = problems_of(BROKEN)
    expected = [
        "road.yaml:6: roadmap.timezon: unknown key 'timezon' (did you mean 'timezone'?)",
        "road.yaml:9: people[bob].email: invalid e-mail address 'bob-at-example.org'",
        "road.yaml:10: people[bob].key: duplicate people key 'bob' (first at line 9)",
        "road.yaml:13: stages[s2].end: stage ends (2015-01-01) before it starts (2015-01-10)",
        "road.yaml:16: tasks[t3].depends_on: dependency cycle: t3 -> t7 -> t3",
        "road.yaml:16: tasks[t3].owner: unknown person 'alise' (did you mean 'alice'?)",
        "road.yaml:18: tasks[t8].stage: unknown stage 's9'",
        "road.yaml:24: tasks[t9].status: warning: task is done but has no 'done_on' date",
        "road.yaml:25: tasks[t9].progres: unknown key 'progres' (did you mean 'progress'?)",
        "road.yaml:27: risks[r1].probability: Input should be less than or equal to 5, got 7",
    ]
    for line in expected:
        assert line in got
    assert any(p.startswith("road.yaml:18: tasks[t8].due: cannot read 'tomorrow'") for p in got)


def test_yaml_syntax_error_names_the_line():
    got = problems_of("roadmap:\n  key: x\n  title: [unclosed\npeople: []\n")
    assert len(got) == 1 and got[0].startswith("road.yaml:4: (yaml): YAML syntax error")


def test_duplicate_mapping_keys_are_errors(small_yaml: Path):
    text = small_yaml.read_text().replace("  title: Small roadmap\n", "  title: Small roadmap\n  title: Again\n")
    got = problems_of(text)
    assert any("roadmap.title: duplicate key" in p for p in got)


def test_missing_fields_wrong_types_unknown_timezone_and_calendar(small_yaml: Path):
    text = (
        small_yaml.read_text()
        .replace("timezone: Europe/Moscow", "timezone: Europe/Moskow")
        .replace("calendar: RU", "calendar: XX")
        .replace("{key: a, title: Survey, stage: s1, workstream: pav, owner: alice, duration: 5}",
                 "{key: a, stage: s1, workstream: pav, owner: alice, duration: five}")
        .replace("probability: 4", "probability: high")
    )
    got = "\n".join(problems_of(text))
    assert "roadmap.timezone: unknown timezone 'Europe/Moskow' (did you mean 'Europe/Moscow'?)" in got
    assert "roadmap.calendar: unknown calendar 'XX'" in got
    assert "tasks[a]: missing required key 'title'" in got
    assert "risks[r1].probability: Input should be a valid integer" in got


def test_both_due_and_duration_and_unknown_references(small_yaml: Path):
    text = small_yaml.read_text().replace(
        "{key: c, title: Agreement, stage: s1, owner: bob, partners: [vdnh], due: 2014-11-07}",
        "{key: c, title: Agreement, stage: s1, owner: bob, partners: [vdnx], due: 2014-11-07, duration: 3, "
        "depends_on: [zz]}",
    )
    got = "\n".join(problems_of(text))
    assert "tasks[c].due: give either 'due' or 'duration', not both" in got
    assert "tasks[c].partners[0]: unknown partner 'vdnx' (did you mean 'vdnh'?)" in got
    assert "tasks[c].depends_on[0]: unknown task 'zz'" in got


def test_schedule_conflict_and_task_outside_stage_are_warnings(small_yaml: Path):
    text = small_yaml.read_text().replace("due: task.b + 1w", "due: 2014-11-06").replace(
        "{key: f, title: Build, stage: s2, owner: alice, duration: 10,",
        "{key: f, title: Build, stage: s1, owner: alice, duration: 20,"
    )
    loaded = load_roadmap_text(text, "road.yaml")
    warnings = [w.format() for w in loaded.warnings]
    assert any("tasks[d].due: warning: schedule conflict" in w for w in warnings)
    outside = "tasks[f]: warning: due 2014-12-04 is outside its stage 's1' (2014-10-28 .. 2014-11-28)"
    assert any(outside in w for w in warnings)


def test_example_roadmap_is_clean(example_yaml: Path):
    loaded = load_roadmap(example_yaml)
    assert loaded.warnings == []
    doc = loaded.doc
    assert len(doc.stages) >= 4 and len(doc.tasks) >= 40 and len(doc.risks) >= 10
    assert sum(1 for t in doc.tasks if t.depends_on) >= 20
    assert {t.due is None for t in doc.tasks} == {True, False}  # pinned and scheduled


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"roadmap:\n  title: \xff\xfe\n")
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap(bad)
    assert info.value.problems[0].format().startswith(f"{bad}:2: (file): the file is not valid UTF-8")
    with pytest.raises(RoadmapInvalid):
        load_roadmap(tmp_path / "missing.yaml")


SMALL_TEXT = (Path(__file__).parent / "data" / "small.yaml").read_text()
yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.text(max_size=12),
    st.dates().map(lambda d: d.isoformat()), st.sampled_from(["session + 3bd", "task.a + 1w", "stage.s1.end", "5bd"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_loader_raises_only_its_own_error_on_arbitrary_text(text):
    try:
        load_roadmap_text(text, "fuzz.yaml")
    except RoadmapInvalid as exc:
        assert all(p.line >= 1 for p in exc.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_loader_raises_only_its_own_error_on_mutated_documents(data):
    import yaml

    doc = yaml.safe_load(SMALL_TEXT)
    section = data.draw(st.sampled_from(["roadmap", "people", "stages", "tasks", "risks", "policy", "partners"]))
    target = doc[section]
    if isinstance(target, list):
        target = target[data.draw(st.integers(0, len(target) - 1))]
    field = data.draw(st.sampled_from(sorted(target) + ["extra"]))
    if data.draw(st.booleans()):
        target[field] = data.draw(yaml_values)
    else:
        target.pop(field, None)
    try:
        load_roadmap_text(yaml.safe_dump(doc, allow_unicode=True), "fuzz.yaml")
    except RoadmapInvalid as exc:
        assert exc.problems


def test_unknown_calendar_does_not_hide_date_problems(small_yaml: Path):
    text = small_yaml.read_text().replace("calendar: RU", "calendar: XX").replace(
        "end: 2014-12-30", "end: 2014-11-01").replace("depends_on: [a]}", "depends_on: [a, f]}", 1)
    got = "\n".join(problems_of(text))
    assert "roadmap.calendar: unknown calendar 'XX'" in got
    assert "stages[s2].end: stage ends (2014-11-01) before it starts (2014-12-01)" in got
    assert "dependency cycle" in got
