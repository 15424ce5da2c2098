"""Issue 13, point 9: a person's own language (``people[].language``) for their mail and the
task pages their links open; everyone else keeps the roadmap's. Real SMTP, both databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tasks.notify_jobs import deliver_pending, plan_reminders, record_plan
from tasks.roadmap_jobs import import_file
from tests.test_web import link, make_client, web_env

ROOT = Path(__file__).resolve().parent.parent
ALICE = "  - {key: alice, name: Alice, email: alice@example.org, manager: boss}"


def with_alice(small_yaml: Path, tmp_path: Path, extra: str) -> Path:
    text = small_yaml.read_text(encoding="utf-8")
    assert ALICE in text
    path = tmp_path / "small-lang.yaml"
    path.write_text(text.replace(ALICE, ALICE[:-1] + extra + "}"), encoding="utf-8")
    return path


@pytest.fixture
def url(db_url, small_yaml, tmp_path, monkeypatch):
    web_env(monkeypatch)
    import_file(db_url, with_alice(small_yaml, tmp_path, ", language: en"))
    return db_url


def test_a_person_with_their_own_language_gets_mail_in_it_and_the_others_the_roadmaps(url, smtp_env):
    record_plan(url, plan_reminders(url, None, date(2014, 11, 10)))
    assert deliver_pending(url).sent == 2
    got = {m["To"].addresses[0].addr_spec: m for m in smtp_env.messages}
    alice, bob = got["alice@example.org"], got["bob@example.org"]
    # The first run after the import: Alice's kick-off (her tasks) in her language; Bob's
    # digest leads with what needs attention, in the roadmap's.
    assert str(alice["Subject"]) == "Your tasks: 3 · Small roadmap · 10 November"
    assert str(bob["Subject"]) == "2 задачи требуют внимания · Small roadmap · 10 ноября"
    alice_text = alice.get_body(("plain",)).get_content()
    assert "Hello" in alice_text and "Здравствуйте" not in alice_text
    assert "Здравствуйте" in bob.get_body(("plain",)).get_content()
    (ics,) = [a for a in alice.iter_attachments() if a.get_content_type() == "text/calendar"]
    described = ics.get_content().replace("\r\n ", "")  # unfolded
    assert "Roadmap: Small roadmap" in described and "Дорожная карта" not in described  # her language too


def test_the_task_page_of_her_link_is_in_her_language(url):
    client = make_client(url)
    page = client.get(link("a", "alice"))
    assert page.status_code == 200 and 'lang="en"' in page.text, page.text[:300]
    other = client.get(link("c", "bob"))
    assert other.status_code == 200 and 'lang="ru"' in other.text


def test_her_calendar_feed_is_in_her_language_as_her_mail(url):
    from models.notify import Recipient
    from tasks.render_mail import calendar_link
    from tests.test_web import BASE, KEY, path_of

    client = make_client(url)
    alice = client.get(path_of(calendar_link(KEY, BASE, "small", Recipient("alice@example.org", "Alice", "alice"))))
    bob = client.get(path_of(calendar_link(KEY, BASE, "small", Recipient("bob@example.org", "Bob", "bob"))))
    assert alice.status_code == bob.status_code == 200
    assert "Roadmap: Small roadmap" in alice.text.replace("\r\n ", "") and "Дорожная карта" not in alice.text
    assert "Дорожная карта: Small roadmap" in bob.text.replace("\r\n ", "")


def test_an_unknown_language_is_refused_at_its_line(small_yaml, tmp_path):
    bad = with_alice(small_yaml, tmp_path, ", language: de")
    out = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(bad)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert out.returncode == 2, out.stderr
    assert f"{bad}:20: people[alice].language: " in out.stderr and "'ru' or 'en'" in out.stderr, out.stderr
