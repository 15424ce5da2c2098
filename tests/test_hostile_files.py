"""Hostile roadmap files, options and form dates (issue 11, points 1 and 2, and what reading a
file must survive: a device, a FIFO, a huge file, impossible dates, deep nesting, an ESC in the
file's name): each is refused
quickly, with one line naming the file, the line and the key (exit 2), and nothing changes.

The attacks themselves, with their figures before and after, are in bench/attacks/files.py.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.dates import MAX_DURATION, MAX_SHIFT_DAYS, window
from models.graph import MAX_CYCLES
from models.loader import load_roadmap_text
from models.problems import RoadmapInvalid
from models.roadmap_yaml import NO_ALIASES

ROOT = Path(__file__).resolve().parent.parent
SMALL = (ROOT / "tests" / "data" / "small.yaml").read_text(encoding="utf-8")

# Nine levels of nine aliases: 2.5 KB that PyYAML expands to 9**9 = 387 million strings.
BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["roadmap: *i"]
) + "\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(text, "road.yaml")
    return [p.format() for p in info.value.errors]


def edited(old: str, new: str) -> str:
    assert old in SMALL, old
    return SMALL.replace(old, new)


def _one_gigabyte() -> None:  # so that the old code fails with MemoryError instead of eating the machine
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def roadmap_process(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_one_gigabyte)


# --- 1. anchors and aliases -----------------------------------------------------------


def test_an_alias_bomb_is_refused_at_its_first_anchor_in_a_fraction_of_a_second(tmp_path):
    (tmp_path / "bomb.yaml").write_text(BOMB)
    start = time.perf_counter()
    out = roadmap_process("validate", "bomb.yaml", cwd=tmp_path)
    assert time.perf_counter() - start < 20
    assert out.returncode == 2, out.stderr[-500:]
    assert out.stderr.splitlines()[0] == f"bomb.yaml:1: (yaml): an anchor '&a': {NO_ALIASES}"
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("old, new, line, what", [
    ("office: {name: Project office, email: pmo@example.org}",
     "office: &pmo {name: Project office, email: pmo@example.org}", 10, "an anchor '&pmo'"),
    ("  - {key: s2, title: Stage two,", "  - {key: s2, title: *t,", 27, "an alias '*t'"),
    ("report_to: [boss, director@example.org]", "report_to: [boss, director@example.org]\n  <<: {place: x}",
     12, "a merge key '<<'"),
])
def test_anchors_aliases_and_merge_keys_are_refused_with_their_line(old, new, line, what):
    text = edited(old, new)
    if "*t" in new:
        text = text.replace("title: Stage one,", "title: &t Stage one,")
        line = 26  # the anchor comes first
        what = "an anchor '&t'"
    assert problems_of(text) == [f"road.yaml:{line}: (yaml): {what}: {NO_ALIASES}"]


@pytest.mark.parametrize("text", [
    BOMB,
    "a: &a [x, x, x]\n? [*a, *a]\n: 1\n",  # a key that is a list is built whole
    'a: &a [x, x, x]\nb: {"c":*a}\n',  # right after the ':' of a quoted key
])
def test_an_alias_is_refused_before_it_expands_even_if_the_text_search_missed_it(text, monkeypatch):
    from models import roadmap_yaml

    assert problems_of(text) == [f"road.yaml:1: (yaml): an anchor '&a': {NO_ALIASES}"]
    monkeypatch.setattr(roadmap_yaml, "_MAYBE_ANCHOR", re.compile("(?!)"))  # never matches
    assert problems_of(text) == [f"road.yaml:1: (yaml): an anchor '&a': {NO_ALIASES}"]


def test_an_ampersand_or_a_star_in_text_is_not_an_anchor():
    text = edited("title: Survey,", "title: Q &A for R&D *now*,")
    assert load_roadmap_text(text, "road.yaml").doc.tasks[0].title == "Q &A for R&D *now*"


def test_the_seed_example_and_the_test_data_use_no_anchors(example_yaml, small_yaml):
    for path in (example_yaml, small_yaml):
        load_roadmap_text(path.read_text(encoding="utf-8"), str(path))  # no RoadmapInvalid


def test_a_big_clean_file_still_takes_the_fast_reader(monkeypatch):
    """The refusal lives in the line-tracking reader; the rapidyaml path is untouched."""
    from models import roadmap_yaml, yaml_fast

    monkeypatch.setattr(yaml_fast, "FAST_FROM_BYTES", 0)
    monkeypatch.setattr(roadmap_yaml.Reader, "read", lambda *a: pytest.fail("the slow reader was used"))
    load_roadmap_text(SMALL, "road.yaml")


# --- 2. numbers and dates ----------------------------------------------------------------


@pytest.mark.parametrize("old, new, expected", [
    ("duration: 10,", "duration: 100000000,",
     f"road.yaml:34: tasks[f].duration: duration must be at most {MAX_DURATION:,} business days, got 100000000"),
    ("duration: 10,", "duration: '9999999999999999999999999bd',",
     f"road.yaml:34: tasks[f].duration: duration must be at most {MAX_DURATION:,} business days, "
     "got '9999999999999999999999999bd'"),
    ("due: task.b + 1w", "due: task.b + 99999999999bd",
     f"road.yaml:32: tasks[d].due: the offsets move the date by more than {MAX_SHIFT_DAYS:,} days in all"),
    ("due: task.b + 1w", "due: task.b + 1429w",
     f"road.yaml:32: tasks[d].due: the offsets move the date by more than {MAX_SHIFT_DAYS:,} days in all"),
    ("due: task.b + 1w", "due: task.b" + " + 9000d - 9000d" * 2,
     f"road.yaml:32: tasks[d].due: the offsets move the date by more than {MAX_SHIFT_DAYS:,} days in all"),
    ("due: task.b + 1w", "due: task.b + " + "9" * 80 + "d",
     f"road.yaml:32: tasks[d].due: the offsets move the date by more than {MAX_SHIFT_DAYS:,} days in all"),
    ("due: 2014-11-07", "due: 9999-12-31",
     "road.yaml:31: tasks[c].due: 9999-12-31 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("due: 2014-11-07", "due: 9999-12-31 + 5bd",
     "road.yaml:31: tasks[c].due: 9999-12-31 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("due: 2014-11-07", "due: 2034-10-27 + 10000bd",
     "road.yaml:31: tasks[c].due: 2074-09-10 (as scheduled) is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("due: 2014-11-07", "start: 0001-01-01, duration: 3",
     "road.yaml:31: tasks[c].start: 0001-01-01 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("done_on: 2014-11-06", "done_on: 9999-12-31",
     "road.yaml:33: tasks[e].done_on: 9999-12-31 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("review: 2014-11-10", "review: 9999-12-31",
     "road.yaml:43: risks[r1].review: 9999-12-31 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("end: 2014-12-30}", "end: stage.s1.end + 10000d}",
     "road.yaml:27: stages[s2].end: 2042-04-15 is more than 20 years from the session (2014-10-27): "
     "use a date from 1994-10-27 to 2034-10-27"),
    ("date: 2014-10-27", "date: 9999-12-31",
     "road.yaml:6: roadmap.session: Input should be less than or equal to 2199-12-31, got 9999-12-31"),
])
def test_numbers_and_dates_out_of_bounds_are_refused_with_file_line_and_key(old, new, expected):
    start = time.perf_counter()
    assert problems_of(edited(old, new)) == [expected]
    assert time.perf_counter() - start < 5


def test_a_chain_of_long_tasks_stops_at_the_first_one_past_the_window():
    tasks = "".join(
        f"  - {{key: k{n}, title: K{n}, stage: s2, owner: alice, duration: {MAX_DURATION}"
        + (f", depends_on: [k{n - 1}]" if n else "") + "}\n"
        for n in range(1000)
    )
    text = edited("risks:\n", tasks + "risks:\n")
    got = problems_of(text)
    assert len(got) == 1 and got[0].startswith("road.yaml:36: tasks[k1].due: 2035-01-19 (as scheduled)"), got


def test_a_roadmap_on_the_edges_of_its_window_is_fine():
    first, last = window(date(2014, 10, 27))
    text = edited("due: 2014-11-07", f"start: {first}, due: {last}")
    loaded = load_roadmap_text(text, "road.yaml")
    assert (loaded.schedule.plans["c"].start, loaded.schedule.plans["c"].due) == (first, last)


def test_thousands_of_dependency_cycles_are_named_at_most_twenty_at_a_time():
    pairs = 2000
    tasks = "".join(
        f"  - {{key: c{n}, title: C, stage: s1, owner: alice, duration: 1, depends_on: [c{n ^ 1}]}}\n"
        for n in range(2 * pairs)
    )
    start = time.perf_counter()
    got = problems_of(edited("risks:\n", tasks + "risks:\n"))
    assert time.perf_counter() - start < 10
    assert len([p for p in got if "dependency cycle" in p]) == MAX_CYCLES
    assert got[0] == "road.yaml:35: tasks[c0].depends_on: dependency cycle: c0 -> c1 -> c0"


# --- options and forms -----------------------------------------------------------------


@pytest.fixture
def imported(db_url, small_yaml):
    from tasks.roadmap_jobs import import_file

    import_file(db_url, small_yaml)
    return db_url


FAR = "use a date from 1994-10-27 to 2034-10-27"


@pytest.mark.parametrize("args, option", [
    (["status", "--as-of", "9999-12-31"], "--as-of"),
    (["report", "--as-of", "9999-12-31"], "--as-of"),
    (["remind", "--as-of", "9999-12-31", "--dry-run"], "--as-of"),
    (["escalate", "--as-of", "0001-01-01", "--dry-run"], "--as-of"),
    (["run", "--as-of", "9999-12-31"], "--as-of"),
    (["task", "update", "a", "--forecast", "9999-12-31"], "--forecast"),
    (["task", "update", "a", "--status", "done", "--on", "9999-12-31"], "--on"),
    (["risk", "update", "r1", "--review", "9999-12-31"], "--review"),
    (["risk", "update", "r1", "--reviewed", "--on", "9999-12-31"], "--on"),
])
def test_days_of_options_outside_the_window_exit_2_with_one_line(imported, args, option):
    result = CliRunner().invoke(app, [*args, "--db", imported])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: ") and lines[0].endswith(FAR), result.stderr
    status = CliRunner().invoke(app, ["status", "--as-of", "2014-11-10", "--db", imported])
    assert status.exit_code == 0, status.output  # nothing was changed that breaks the roadmap


def test_a_form_date_outside_the_window_is_a_form_error_not_a_500(imported, monkeypatch):
    from tests.test_web import form_fields, link, make_client, task_row, web_env

    web_env(monkeypatch)
    client = make_client(imported)
    page = client.get(link()).text
    for action, fields in (("forecast", {"forecast": "9999-12-31", "reason": "far"}),
                           ("away", {"until": "9999-12-31", "delegate": "bob"}),
                           ("done", {"on": "0001-01-01"})):
        r = client.post("/roadmaps/small/tasks/a", data={**form_fields(page, action), **fields},
                        follow_redirects=False)
        assert r.status_code == 400, (action, r.status_code)
        assert "укажите дату с 27 октября 1994 г. по 27 октября 2034 г." in r.text, action
    assert task_row(imported, "a").forecast is None
    assert client.get(link()).status_code == 200


# --- what reading a file must survive ----------------------------------------------------

NOT_REGULAR = "(file): the file is not a regular file (a device, FIFO or socket); only a regular file will do"
COUNT = "1 error(s), 0 warning(s); nothing was changed."


def test_a_device_or_a_fifo_is_refused_before_it_is_read(tmp_path):
    """/dev/zero used to be read until the memory ran out, and a FIFO without a writer hung."""
    os.mkfifo(tmp_path / "pipe.yaml")
    for name in ("/dev/zero", "pipe.yaml"):
        start = time.perf_counter()
        out = roadmap_process("validate", name, cwd=tmp_path, timeout=20)
        assert time.perf_counter() - start < 10
        assert out.returncode == 2, out.stderr[-300:]
        assert out.stderr.splitlines() == [f"{name}:1: {NOT_REGULAR}", COUNT]


def test_a_folder_or_a_missing_file_is_one_line(tmp_path):
    for name, why in ((".", "(file): the file is a folder, not a file"),
                      ("nope.yaml", "(file): cannot read the file: No such file or directory")):
        result = CliRunner().invoke(app, ["validate", str(tmp_path / name)])
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [f"{tmp_path / name}:1: {why}", COUNT]


@pytest.mark.parametrize("command", [["validate"], ["import", "--db", "sqlite:///{tmp}/r.db"]])
def test_a_file_over_the_size_limit_is_refused_by_its_size(tmp_path, command):
    from models.loader import MAX_FILE_BYTES

    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: 33 MB of NULs that are never written
        f.truncate(MAX_FILE_BYTES + (1 << 20))
    args = [a.format(tmp=tmp_path) for a in command]
    start = time.perf_counter()
    result = CliRunner().invoke(app, [args[0], str(big), *args[1:]])
    assert time.perf_counter() - start < 5
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"{big}:1: (file): the file is 33 MB; roadmap files are limited to 32 MB",
                                          COUNT]


def test_a_file_that_reads_longer_than_its_size_stops_at_the_limit(tmp_path):
    """A file under /proc says 0 bytes; one that grows while read says less than it gives."""
    from models.file_paths import FileRefused, read_regular_file

    (tmp_path / "f").write_bytes(b"x" * (3 << 20))
    assert read_regular_file(tmp_path / "f", 3 << 20, "test files") == b"x" * (3 << 20)
    with pytest.raises(FileRefused, match="^the file is 3 MB; test files are limited to 2 MB$"):
        read_regular_file(tmp_path / "f", 2 << 20, "test files")
    assert len(read_regular_file("/proc/self/status", 1 << 20, "test files")) > 0
    with pytest.raises(FileRefused, match="^the file is more than "):
        read_regular_file("/proc/self/maps", 100, "test files")


@pytest.fixture(params=["full reader", "fast reader"])
def reader(request, monkeypatch):
    """Both readers: a big file goes to rapidyaml first (models/yaml_fast.py)."""
    from models import yaml_fast

    if request.param == "fast reader":
        monkeypatch.setattr(yaml_fast, "FAST_FROM_BYTES", 0)
    return request.param


NINES = "'" + "9" * 24 + "..." + "9" * 8 + "' (5,000 characters)"


@pytest.mark.parametrize("old, new, expected", [
    ("due: 2014-11-07", "due: 2014-12-32",
     "road.yaml:31: tasks[c].due: cannot read '2014-12-32' as a date: day is out of range for month"),
    ("due: 2014-11-07", "due: 2014-13-01", "road.yaml:31: tasks[c].due: cannot read '2014-13-01' as a date: "
     "month must be in 1..12"),
    ("due: 2014-11-07", "due: 2014-11-07T25:00:00",
     "road.yaml:31: tasks[c].due: cannot read '2014-11-07T25:00:00' as a date: hour must be in 0..23"),
    ("due: 2014-11-07", "due: 2014-11-07T10:00:00+99:00", "road.yaml:31: tasks[c].due: cannot read "
     "'2014-11-07T10:00:00+99:00' as a date: a time zone offset must be less than 24 hours"),
    ("due: 2014-11-07", "due: !!timestamp soon", "road.yaml:31: tasks[c].due: cannot read 'soon' as a date: "
     "use YYYY-MM-DD"),
    ("duration: 10,", "duration: " + "9" * 5000 + ",",
     f"road.yaml:34: tasks[f].duration: cannot read {NINES} as a number: a number has at most 100 characters"),
    ("duration: 10,", "duration: 0x" + "f" * 4998 + ",",  # Python cannot even print it in the error
     "road.yaml:34: tasks[f].duration: cannot read '0xffffffffffffffffffffff...ffffffff' (5,000 characters) "
     "as a number: a number has at most 100 characters"),
    ("duration: 10,", "duration: !!int ten,", "road.yaml:34: tasks[f].duration: cannot read 'ten' as a number: "
     "not a number"),
    ("probability: 4", "probability: !!bool maybe", "road.yaml:40: risks[r1].probability: cannot read 'maybe' as "
     "true or false: use true or false"),
    ("  - {key: f,", "  - {2014-12-32: x, key: f,",
     "road.yaml:34: tasks[f].2014-12-32: cannot read '2014-12-32' as a date: day is out of range for month"),
])
def test_a_value_yaml_cannot_build_is_named_at_its_line_and_key(reader, old, new, expected):
    assert problems_of(edited(old, new)) == [expected]


def test_every_unreadable_value_is_named_at_once_with_the_other_problems_and_no_echo(reader):
    text = (edited("due: 2014-11-07", "due: 2014-12-32")
            .replace("duration: 10,", "duration: " + "9" * 5000 + ",")
            .replace("review: 2014-11-10", "review: 2014-11-10T25:00:00")
            .replace("title: Survey,", "titel: Survey,"))
    assert problems_of(text) == [
        "road.yaml:29: tasks[a]: missing required key 'title'",
        "road.yaml:29: tasks[a].titel: unknown key 'titel' (did you mean 'title'?)",
        "road.yaml:31: tasks[c].due: cannot read '2014-12-32' as a date: day is out of range for month",
        f"road.yaml:34: tasks[f].duration: cannot read {NINES} as a number: a number has at most 100 characters",
        "road.yaml:43: risks[r1].review: cannot read '2014-11-10T25:00:00' as a date: hour must be in 0..23",
    ]


@pytest.mark.parametrize("depth", [51, 990])  # 990: past Python's recursion limit, within libyaml's 1,000
def test_deep_nesting_is_refused_at_its_line(reader, depth):
    from models.roadmap_yaml import MAX_DEPTH

    text = edited("report_to: [boss, director@example.org]",
                  "report_to: [boss, director@example.org]\n  notes: " + "[" * depth + "]" * depth)
    assert problems_of(text) == [f"road.yaml:12: (yaml): lists and mappings nested more than {MAX_DEPTH} deep; "
                                 "a roadmap needs five levels at most"]


def test_deep_nesting_in_a_key_is_refused_too():
    from models.roadmap_yaml import MAX_DEPTH

    assert problems_of("? " + "[" * 990 + "]" * 990 + "\n: 1\n") == [
        f"road.yaml:1: (yaml): lists and mappings nested more than {MAX_DEPTH} deep; "
        "a roadmap needs five levels at most"]


@pytest.mark.parametrize("text", [
    "roadmap: " + "[" * 300_000 + "]" * 300_000 + "\n",  # big enough for rapidyaml, past its depth of 64
    "".join(" " * i + f"k{i}:\n" for i in range(1500)),  # block style, past libyaml's depth of 1,000
])
def test_deep_nesting_in_a_big_file_prints_one_line_and_no_cpp_noise(tmp_path, text):
    (tmp_path / "deep.yaml").write_text(text)
    out = roadmap_process("validate", "deep.yaml", cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-300:]
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and lines[1] == COUNT, out.stderr[:500]
    assert "exceeded maximum nesting depth" in lines[0]


def test_the_file_name_in_problems_reaches_the_terminal_without_control_characters(tmp_path):
    name = tmp_path / "\x1b[2Jx.yaml"
    name.write_text(edited("due: 2014-11-07", "due: 2014-12-32"))
    result = CliRunner().invoke(app, ["validate", str(name)])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"{tmp_path}/\ufffd[2Jx.yaml:31: tasks[c].due: cannot read")


def test_the_file_name_of_a_valid_file_reaches_the_terminal_without_control_characters(tmp_path):
    name = tmp_path / "\x1b[2Jx.yaml"
    name.write_text(edited("due: 2014-11-07", "due: 2014-11-07"))
    result = CliRunner().invoke(app, ["validate", str(name)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\ufffd[2Jx.yaml: ok:" in result.output


def test_an_impossible_date_hides_no_other_mistake_of_its_own_task(reader):
    text = edited("owner: bob, partners: [vdnh], due: 2014-11-07",
                  "owner: bobb, partners: [vdnhh], due: 2014-12-32, depends_on: [zz], status: finished")
    assert problems_of(text) == [  # and no "missing 'due' or 'duration'": the due date is there, unreadable
        "road.yaml:31: tasks[c].depends_on[0]: unknown task 'zz'",
        "road.yaml:31: tasks[c].due: cannot read '2014-12-32' as a date: day is out of range for month",
        "road.yaml:31: tasks[c].owner: unknown person 'bobb' (did you mean 'bob'?)",
        "road.yaml:31: tasks[c].partners[0]: unknown partner 'vdnhh' (did you mean 'vdnh'?)",
        "road.yaml:31: tasks[c].status: Input should be 'planned', 'in_progress', 'done', 'blocked' or "
        "'cancelled', got 'finished'",
    ]


def test_a_rejected_key_of_a_person_or_risk_hides_none_of_their_other_mistakes(reader):
    text = (edited("{key: carol, name: Carol, email: carol@example.org, partner: vdnh}",
                   "{key: carol, name: [Carol], email: carol@@example.org, partner: vdhn}")
            .replace("owner: alice, probability: 2, impact: 2", "owner: alicia, probability: 9, impact: 2"))
    assert problems_of(text) == [
        "road.yaml:22: people[carol].email: invalid e-mail address 'carol@@example.org'",
        "road.yaml:22: people[carol].name: Input should be a valid string, got ['Carol']",
        "road.yaml:22: people[carol].partner: unknown partner 'vdhn' (did you mean 'vdnh'?)",
        "road.yaml:45: risks[r2].owner: unknown person 'alicia' (did you mean 'alice'?)",
        "road.yaml:45: risks[r2].probability: Input should be less than or equal to 5, got 9",
    ]


def test_a_done_task_whose_done_on_was_rejected_gets_no_warning_of_a_missing_done_on(reader):
    with pytest.raises(RoadmapInvalid) as info:
        load_roadmap_text(edited("done_on: 2014-11-06", "done_on: 2014-11-31"), "road.yaml")
    assert [p.format() for p in info.value.problems] == [
        "road.yaml:33: tasks[e].done_on: cannot read '2014-11-31' as a date: day is out of range for month"]
