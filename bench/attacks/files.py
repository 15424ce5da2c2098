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


# --- point 2: unbounded numbers and dates (h-bounds) ------------------------------------

def _small(tmp: Path, name: str, old: str, new: str) -> str:
    """tests/data/small.yaml of the checkout under test with one edit, written to tmp/name."""
    import os

    text = (Path(os.environ["ROADMAP_CODE"]) / "tests" / "data" / "small.yaml").read_text(encoding="utf-8")
    assert old in text, old
    (tmp / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return name


@attack("huge duration: validate", __name__)
def huge_duration(tmp: Path) -> str:
    return cli("validate", _small(tmp, "dur.yaml", "duration: 10,", "duration: 100000000,"))


@attack("huge bd offset: validate", __name__)
def huge_offset(tmp: Path) -> str:
    return cli("validate", _small(tmp, "off.yaml", "due: task.b + 1w", "due: task.b + 99999999999bd"))


@attack("far due 9999-12-31: import, then status", __name__)
def far_due(tmp: Path) -> str:
    first = cli("import", _small(tmp, "far.yaml", "due: 2014-11-07", "due: 9999-12-31"))
    return f"import {first}; status {cli('status', '--as-of', '2014-11-10')}"


@attack("chain of 1,000 long tasks: validate", __name__)
def long_chain(tmp: Path) -> str:
    tasks = "".join(f"  - {{key: k{n}, title: K, stage: s2, owner: alice, duration: 2500"
                    + (f", depends_on: [k{n - 1}]" if n else "") + "}\n" for n in range(1000))
    return cli("validate", _small(tmp, "chain.yaml", "risks:\n", tasks + "risks:\n"))


@attack("5,000 dependency cycles: validate", __name__)
def many_cycles(tmp: Path) -> str:
    tasks = "".join(f"  - {{key: c{n}, title: C, stage: s1, owner: alice, duration: 1, depends_on: [c{n ^ 1}]}}\n"
                    for n in range(10_000))
    return cli("validate", _small(tmp, "cycles.yaml", "risks:\n", tasks + "risks:\n"))


@attack("status --as-of 9999-12-31", __name__)
def far_as_of(tmp: Path) -> str:
    cli("import", _small(tmp, "small.yaml", "", ""))
    return cli("status", "--as-of", "9999-12-31")


@attack("task update --forecast 9999-12-31, then status", __name__)
def far_forecast(tmp: Path) -> str:
    cli("import", _small(tmp, "small.yaml", "", ""))
    first = cli("task", "update", "a", "--forecast", "9999-12-31")
    return f"update {first}; status {cli('status', '--as-of', '2014-11-10')}"


_WEB_ENV = {"ROADMAP_SECRET_KEY": "attack-secret-key-0123456789", "ROADMAP_PUBLIC_URL": "http://127.0.0.1:8000"}


@attack("web form: forecast 9999-12-31", __name__, env=_WEB_ENV)
def web_far_forecast(tmp: Path) -> str:
    import datetime as dt
    import os
    import re

    from fastapi.testclient import TestClient

    from config import Settings
    from tasks.render_mail import task_links
    from web.app import create_app

    cli("import", _small(tmp, "small.yaml", "", ""))
    now = dt.datetime(2014, 11, 10, 9, 0, tzinfo=dt.UTC)
    client = TestClient(create_app(os.environ["ROADMAP_DATABASE_URL"], Settings(), clock=lambda: now),
                        base_url=_WEB_ENV["ROADMAP_PUBLIC_URL"], raise_server_exceptions=False)
    page_url = task_links(_WEB_ENV["ROADMAP_SECRET_KEY"], _WEB_ENV["ROADMAP_PUBLIC_URL"], "small", "a", "alice",
                          now.date()).page
    page = client.get(page_url[len(_WEB_ENV["ROADMAP_PUBLIC_URL"]):]).text
    form = re.search(r'<form[^>]*>(?:(?!</form>).)*name="action" value="forecast".*?</form>', page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0) if form else ""))
    r = client.post("/roadmaps/small/tasks/a", data={**fields, "forecast": "9999-12-31", "reason": "far"},
                    follow_redirects=False)
    again = client.get(page_url[len(_WEB_ENV["ROADMAP_PUBLIC_URL"]):])
    return f"POST {r.status_code}, then the page {again.status_code}"


# --- reading the file: devices, size, impossible values, nesting, its name (r-files) -------


@attack("validate /dev/zero", __name__)
def dev_zero(tmp: Path) -> str:
    return cli("validate", "/dev/zero")


@attack("validate a 40 MB file", __name__)
def big_file(tmp: Path) -> str:
    with (tmp / "big.yaml").open("wb") as f:
        f.truncate(40 << 20)
    return cli("validate", "big.yaml")


@attack("due 2014-12-32 and a 5,000-digit duration: validate", __name__)
def impossible_values(tmp: Path) -> str:
    name = _small(tmp, "bad.yaml", "due: 2014-11-07", "due: 2014-12-32")
    text = (tmp / name).read_text(encoding="utf-8").replace("duration: 10,", "duration: " + "9" * 5000 + ",")
    (tmp / name).write_text(text, encoding="utf-8")
    return cli("validate", name)


@attack("300,000 nested [ (rapidyaml noise): validate", __name__)
def deep_big(tmp: Path) -> str:
    import os
    import subprocess
    import sys

    (tmp / "deep.yaml").write_text("roadmap: " + "[" * 300_000 + "]" * 300_000 + "\n")
    # rapidyaml writes to the process's stderr (fd 2), which cli() cannot capture: a child does.
    out = subprocess.run([sys.executable, "-m", "cli.main", "validate", "deep.yaml"], capture_output=True, text=True,
                         env=os.environ, timeout=100)
    lines = out.stderr.splitlines()
    return f"exit {out.returncode}: {len(lines)} stderr lines: {lines[0][:100] if lines else ''}"


@attack("990 nested [ in a small file: validate", __name__)
def deep_small(tmp: Path) -> str:
    return cli("validate", _small(tmp, "deep.yaml", "report_to: [boss, director@example.org]",
                                  "report_to: [boss, director@example.org]\n  notes: " + "[" * 990 + "]" * 990))


@attack("ESC in the file name: validate", __name__)
def esc_name(tmp: Path) -> str:
    name = _small(tmp, "\x1b[2Jx.yaml", "due: 2014-11-07", "due: 2014-12-32")
    out = cli("validate", name)
    return f"{'raw ESC' if chr(27) in out else 'no ESC'}; {out.replace(chr(27), '<ESC>')}"
