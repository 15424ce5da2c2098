"""Issue 13, point 4: calendars that stay true. The calendar feed through the real web app,
and the withdrawal (METHOD:CANCEL) of entries through the real outbox and SMTP server, on
SQLite and PostgreSQL. Calendars are read with ``vobject``, not with the ``icalendar``
package that writes them.

The small roadmap (tests/data/small.yaml) on Monday 10 Nov 2014: Alice owns a, b and f open
and e done; Bob owns c and d. Alice's digest of that day carries a and b in its .ics, Bob's c.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import vobject
from typer.testing import CliRunner

from cli.main import app
from tasks.roadmap_jobs import change_task, import_file
from tests.test_mail_delivery import remind
from tests.test_web import make_client, web_env

DAY1, DAY2, DAY3 = date(2014, 11, 10), date(2014, 11, 11), date(2014, 11, 12)


@pytest.fixture
def url(db_url, small_yaml, monkeypatch):
    web_env(monkeypatch)
    import_file(db_url, small_yaml)
    return db_url


def calendar_link(url: str, person: str, *extra: str) -> str:
    result = CliRunner().invoke(app, ["calendar-link", person, "--db", url, *extra])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/calendar/") and link.endswith(".ics")
    return urlsplit(link).path


def parse(data: bytes | str) -> vobject.base.Component:
    return vobject.readOne(data.decode("utf-8") if isinstance(data, bytes) else data)


def uids(cal: vobject.base.Component, name: str) -> set[str]:
    return {c.uid.value for c in cal.components() if c.name == name}


def test_the_feed_lists_exactly_that_persons_open_tasks_with_the_mail_uids(url, smtp_env):
    remind(url, DAY1)  # the mail .ics of a and b first: the feed must not duplicate them
    mail = next(m for m in smtp_env.messages if m["To"].addresses[0].addr_spec == "alice@example.org")
    ics = next(p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar")
    mailed = {c.uid.value: int(c.sequence.value) for c in parse(ics.get_payload(decode=True)).components()}
    resp = make_client(url).get(calendar_link(url, "alice"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/calendar")
    cal = parse(resp.content)
    assert uids(cal, "VEVENT") == {"a.small@roadmap-office-event", "b.small@roadmap-office-event",
                                   "f.small@roadmap-office-event"}
    assert uids(cal, "VTODO") == {"a.small@roadmap-office", "b.small@roadmap-office", "f.small@roadmap-office"}
    events = {c.summary.value: c for c in cal.components() if c.name == "VEVENT"}
    assert set(events) == {"Survey", "Design", "Build"}  # neither e (done) nor Bob's c and d
    assert all(isinstance(e.dtstart.value, date) for e in events.values())  # all-day on the due date
    for c in cal.components():  # the same entries as the mail's, at the same SEQUENCE
        if c.uid.value in mailed:
            assert int(c.sequence.value) == mailed[c.uid.value]
    bob = parse(make_client(url).get(calendar_link(url, "bob")).content)
    assert {c.summary.value for c in bob.components() if c.name == "VEVENT"} == {"Agreement", "Approval"}


def test_a_tampered_token_gets_403_and_no_data(url):
    path = calendar_link(url, "alice")
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    payload, signature = token.split(".")
    bob_path = calendar_link(url, "bob")
    bob_payload = bob_path.removeprefix("/calendar/").removesuffix(".ics").split(".")[0]
    client = make_client(url)
    for bad in (f"{bob_payload}.{signature}",  # Alice's signature on Bob's payload
                f"{payload}.{signature[:-2]}AA", payload, "x.y"):
        resp = client.get(f"/calendar/{bad}.ics")
        assert resp.status_code == 403, bad
        assert "VCALENDAR" not in resp.text and "Survey" not in resp.text and "Agreement" not in resp.text


def test_a_task_token_is_not_a_calendar_token(url):
    from tests.test_web import link

    token = link("a", "alice").split("token=")[1]
    resp = make_client(url).get(f"/calendar/{token}.ics")
    assert resp.status_code == 403 and "VCALENDAR" not in resp.text


def test_revoking_refuses_every_earlier_link(url):
    old = calendar_link(url, "alice")
    new = calendar_link(url, "alice", "--revoke")
    assert new != old
    client = make_client(url)
    resp = client.get(old)
    assert resp.status_code == 403 and "VCALENDAR" not in resp.text and "This calendar link was revoked" in resp.text
    assert client.get(new).status_code == 200
    assert calendar_link(url, "alice") == new  # printed again, the current link


def test_a_done_task_leaves_the_feed(url):
    path = calendar_link(url, "alice")
    change_task(url, None, "b", status="done", on=DAY1)
    cal = parse(make_client(url).get(path).content)
    assert "b.small@roadmap-office" not in uids(cal, "VTODO")
    assert "a.small@roadmap-office" in uids(cal, "VTODO")


def test_an_unknown_person_is_exit_2_with_did_you_mean(url):
    result = CliRunner().invoke(app, ["calendar-link", "alise", "--db", url])
    assert result.exit_code == 2
    assert "no person 'alise'" in result.output and "did you mean 'alice'?" in result.output


def cancel_of(message) -> vobject.base.Component | None:
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar" and part.get_param("method") == "CANCEL":
            return parse(part.get_payload(decode=True))
    return None


def to(messages, address: str) -> list:
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


def test_a_done_task_is_withdrawn_in_the_owners_next_mail(url, smtp_env):
    remind(url, DAY1)
    first = to(smtp_env.messages, "alice@example.org")[0]
    sent = parse(next(p for p in first.iter_attachments()
                      if p.get_content_type() == "text/calendar").get_payload(decode=True))
    b_sequence = next(int(c.sequence.value) for c in sent.components() if c.uid.value == "b.small@roadmap-office")
    change_task(url, None, "b", status="done", on=DAY2)
    smtp_env.clear()
    remind(url, DAY2)
    mails = to(smtp_env.messages, "alice@example.org")
    assert len(mails) == 1  # the withdrawal rides in the day's one mail to her
    cancel = cancel_of(mails[0])
    assert cancel is not None and cancel.method.value == "CANCEL"
    withdrawn = {c.uid.value: c for c in cancel.components()}
    assert set(withdrawn) == {"b.small@roadmap-office", "b.small@roadmap-office-event"}
    for c in withdrawn.values():
        assert int(c.sequence.value) > b_sequence and c.status.value == "CANCELLED"
    assert "Design" in mails[0].get_body(("plain",)).get_content()
    # Withdrawn once: neither a re-run the same day nor the next day sends it again.
    smtp_env.clear()
    remind(url, DAY2)
    remind(url, DAY3)
    assert not any(cancel_of(m) for m in smtp_env.messages)


def test_a_task_given_to_someone_else_is_withdrawn_from_the_former_owners_calendar(url, smtp_env, tmp_path: Path):
    from tests.conftest import SMALL

    remind(url, DAY1)  # Bob's digest carries c
    assert "Agreement" in to(smtp_env.messages, "bob@example.org")[0].get_body(("plain",)).get_content()
    moved = tmp_path / "small.yaml"
    moved.write_text(SMALL.read_text(encoding="utf-8").replace(
        "{key: c, title: Agreement, stage: s1, owner: bob", "{key: c, title: Agreement, stage: s1, owner: carol"),
        encoding="utf-8")
    import_file(url, moved)
    smtp_env.clear()
    remind(url, DAY2)
    mails = to(smtp_env.messages, "bob@example.org")
    assert len(mails) == 1
    cancel = cancel_of(mails[0])
    assert cancel is not None
    assert {c.uid.value for c in cancel.components()} == {"c.small@roadmap-office", "c.small@roadmap-office-event"}
    assert str(mails[0]["Subject"]).startswith("Обновление календаря")  # no reminder for Bob that day
    from typer.testing import CliRunner

    from cli.main import app

    listed = CliRunner().invoke(app, ["outbox", "--kind", "calendar", "--format", "json", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert [m["recipient"] for m in json.loads(listed.stdout)] == ["bob@example.org"]
    # The feeds follow: c is Carol's now, and no longer Bob's.
    client = make_client(url)
    assert "Agreement" in client.get(calendar_link(url, "carol")).text
    assert "Agreement" not in client.get(calendar_link(url, "bob")).text


def feed_links(message) -> list[str]:
    import re

    return re.findall(r"(http://127\.0\.0\.1:8000/calendar/\S+\.ics)", message.get_body(("plain",)).get_content())


def test_every_digest_to_a_person_links_their_feed(url, smtp_env):
    from tests.test_mail_delivery import escalate

    remind(url, DAY1)
    escalate(url, DAY1)
    client = make_client(url)
    for m in smtp_env.messages:
        address = m["To"].addresses[0].addr_spec
        links = feed_links(m)
        if address == "pmo@example.org":  # the office is no person: no feed
            assert links == []
            continue
        assert len(links) == 1, (address, m["Subject"])
        person = address.split("@")[0]
        assert urlsplit(links[0]).path == calendar_link(url, person)
        assert client.get(urlsplit(links[0]).path).status_code == 200
    assert {m["To"].addresses[0].addr_spec for m in smtp_env.messages} >= {"alice@example.org", "boss@example.org"}
