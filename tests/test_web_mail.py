"""Signed links in rendered mail (no database): one pair per task line, signed for the
reader, the same bytes on every render, and escaped like everything else in the HTML."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from models.notify import Digest, Escalation, Recipient, TaskLine
from models.tokens import OFFICE, TokenError, verify_task_token
from tasks.render_mail import render_digest, render_escalation
from tests.smtp_fixtures import smtp_env_vars

KEY = "mail-link-secret"
BASE = "https://roadmap.example.org/"
AS_OF = date(2014, 11, 10)
NOW = datetime(2014, 11, 10, 9, tzinfo=UTC)
ARGS = dict(roadmap_title="Small", roadmap_key="small", lang="en", office_name="PMO", office_email="pmo@example.org",
            sender="robot@example.org", message_id="<1@example.org>", public_url=BASE, secret_key=KEY)


CAROL = Recipient("carol@example.org", "Carol", "carol")


def digest(recipient: Recipient = CAROL) -> Digest:
    return Digest(recipient, AS_OF, [
        TaskLine(key="a", title="Survey <b>now</b>", stage="S1", due=date(2014, 11, 5), reason="overdue", days_late=3,
                 delegated_from="Alice", away_until=date(2014, 11, 14)),
        TaskLine(key="c", title="Agreement", stage="S1", due=date(2014, 11, 12), reason="before", days_left=2),
    ])


def person_of(link: str, task: str, now: datetime = NOW) -> str:
    """Whose link it is, when the web app would take it at ``now``."""
    token = parse_qs(urlsplit(unescape(link)).query)["token"][0]
    return verify_task_token(KEY, token, roadmap="small", task=task, now=now)


def test_every_task_line_has_a_done_link_and_a_page_link_for_the_reader():
    msg = render_digest(digest(), **ARGS)
    done = re.findall(r"Mark done: (\S+)", msg.text)
    pages = re.findall(r"Progress, new date, blocked: (\S+)", msg.text)
    assert len(done) == len(pages) == 2
    assert all(d.startswith("https://roadmap.example.org/roadmaps/small/tasks/") for d in done)
    assert all(d.endswith("&action=done") for d in done)
    assert [person_of(d, t) for d, t in zip(done, "ac", strict=True)] == ["carol", "carol"]
    assert "On behalf of: Alice (away until 14 November 2014)" in msg.text
    assert "as their delegate" in msg.text and "reply to this message" not in msg.text
    html_links = re.findall(r'<a href="([^"]+)"[^>]*>Mark done</a>', msg.html)
    assert [unescape(h) for h in html_links] == done
    assert "Survey &lt;b&gt;now&lt;/b&gt;" in msg.html


def test_links_do_not_change_the_bytes_from_one_render_to_the_next():
    assert render_digest(digest(), **ARGS).text == render_digest(digest(), **ARGS).text


def test_links_expire_thirty_days_after_the_mail_day():
    link = re.search(r"Mark done: (\S+)", render_digest(digest(), **ARGS).text).group(1)
    assert person_of(link, "a", now=datetime(2014, 12, 10, 23, 59, 58, tzinfo=UTC)) == "carol"
    with pytest.raises(TokenError, match="expired on 2014-12-10"):
        person_of(link, "a", now=datetime(2014, 12, 10, 23, 59, 59, tzinfo=UTC))


def test_an_escalation_to_the_office_carries_an_office_link():
    esc = Escalation(Recipient("pmo@example.org", "PMO"), "task", "a", "Survey", 2, "overdue", "2014-11-05",
                     {"due": date(2014, 11, 5), "days_late": 10, "stage": "S1", "status": "planned",
                      "owner": "Alice", "owner_email": "alice@example.org", "threshold": 10})
    msg = render_escalation(esc, as_of=AS_OF, **ARGS)
    link = re.search(r"Mark done: (\S+)", msg.text).group(1)
    assert person_of(link, "a") == OFFICE


def test_without_a_key_or_a_public_url_there_are_no_links():
    for extra in ({"secret_key": None}, {"public_url": None}):
        msg = render_digest(digest(), **{**ARGS, **extra})
        assert "token=" not in msg.text and "reply to this message" in msg.text


@pytest.mark.parametrize("public_url, warned", [
    (None, True), ("http://localhost:8000", True), ("http://[::1]:8000/", True), ("http://0.0.0.0:8000", True),
    ("", True), ("https://roadmap.example.org", False),
])
def test_mail_through_smtp_warns_when_its_links_point_at_this_machine(db_url, small_yaml, smtp_server, tmp_path,
                                                                      public_url, warned):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")}
    env.update(smtp_env_vars(smtp_server), PYTHONPATH=str(Path(__file__).resolve().parent.parent),
               ROADMAP_SECRET_KEY=KEY)
    if public_url is not None:
        env["ROADMAP_PUBLIC_URL"] = public_url
    for args in (["import", str(small_yaml)], ["remind", "--as-of", "2014-11-10"]):
        out = subprocess.run([sys.executable, "-m", "cli.main", *args, "--db", db_url], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    assert smtp_server.messages  # the warning does not stop the mail
    warning = "set it to the web app's public address"
    assert (warning in out.stderr) is warned, out.stderr
    if warned:
        assert out.stderr.count(warning) == 1 and out.stderr.startswith("warning: ROADMAP_PUBLIC_URL is ")
