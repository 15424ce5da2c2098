"""Issue 13: the risk page behind the link in a risk escalation, and the read-only roadmap
page behind the roadmap link of a person's mail. Through the real path (plan, outbox, a real
SMTP server, the web app over HTTP) on SQLite and PostgreSQL.

The small roadmap on Monday 10 Nov 2014: risk r1 (Bob's, 4×4 = 16, review due that day) is
escalated to Bob, the partner's contact (Carol) and the office; r2 is Alice's and quiet.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models.db import session_scope
from models.schema import Risk
from models.tokens import OFFICE, expiry_for, sign_risk_token, sign_task_token, sign_view_token
from tasks.notify_jobs import deliver_pending, plan_escalation_messages, plan_reminders, record_plan
from tasks.roadmap_jobs import import_file
from tests.test_web import BASE, DAY, KEY, NOW, PASSWORD, changes, form_fields, make_client, path_of, web_env


@pytest.fixture
def url(db_url, small_yaml, monkeypatch):
    web_env(monkeypatch)
    import_file(db_url, small_yaml)
    return db_url


def mails_to(smtp, email: str) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in smtp.messages if m["To"].addresses[0].addr_spec == email]


def delivered_risk_link(url: str, smtp, email: str) -> str:
    """The risk page link of the escalation digest that reached ``email`` through SMTP."""
    plan = plan_escalation_messages(url, None, DAY)
    record_plan(url, plan)
    deliver_pending(url)
    texts = mails_to(smtp, email)
    assert len(texts) == 1
    found = re.findall(rf"({re.escape(BASE)}/roadmaps/small/risks/r1\?token=\S+)", texts[0])
    assert len(found) == 1, texts[0]
    return path_of(found[0])


def risk_row(url: str, key: str = "r1") -> Risk:
    with session_scope(url) as s:
        return s.scalar(select(Risk).where(Risk.key == key))


def risk_link(risk: str = "r1", person: str = "bob", day: date = DAY) -> str:
    return f"/roadmaps/small/risks/{risk}?token={sign_risk_token(KEY, 'small', risk, person, expiry_for(day))}"


def post(client, page_html: str, action: str, risk: str = "r1", **fields: str):
    data = {**form_fields(page_html, action), **fields}
    return client.post(f"/roadmaps/small/risks/{risk}", data=data, follow_redirects=False)


def test_the_risk_link_of_a_delivered_digest_opens_the_page_and_each_action_is_recorded(url, smtp_env):
    page_link = delivered_risk_link(url, smtp_env, "bob@example.org")
    client = make_client(url)
    page = client.get(page_link)
    assert page.status_code == 200 and "Renovation late" in page.text and "4×4 = 16" in page.text
    html = page.text
    r = post(client, html, "reviewed", note="Checked with the site")
    assert r.status_code == 303
    assert risk_row(url).reviewed_on == DAY
    html = client.get(r.headers["location"]).text
    assert "Сохранено" in html
    r = post(client, html, "status", status="mitigated", note="Contractor replaced")
    assert r.status_code == 303 and risk_row(url).status == "mitigated"
    r = post(client, html, "scores", probability="2", impact="3")
    assert r.status_code == 303 and (risk_row(url).probability, risk_row(url).impact) == (2, 3)
    r = post(client, html, "mitigation", mitigation="Daily site meetings\r\nand a reserve crew")
    assert r.status_code == 303 and risk_row(url).mitigation == "Daily site meetings\nand a reserve crew"
    recorded = {(c.field, c.new, c.source, c.actor) for c in changes(url, "r1", "risk")}
    bob = "Bob <bob@example.org>"
    for field, new in (("reviewed_on", "2014-11-10"), ("status", "mitigated"), ("probability", "2"),
                       ("impact", "3"), ("mitigation", "Daily site meetings\nand a reserve crew")):
        assert (field, new, "web", bob) in recorded
    history = client.get(page_link).text.split("История")[1]
    assert "<td>снижен</td>" in history and "mitigated" not in history  # the status in the roadmap's words


def test_the_office_digest_links_the_risk_and_the_partners_contact_gets_no_link(url, smtp_env):
    delivered_risk_link(url, smtp_env, "pmo@example.org")
    assert not any("/risks/" in text for text in mails_to(smtp_env, "carol@example.org"))
    office = make_client(url).get(risk_link(person=OFFICE))
    assert office.status_code == 200


@pytest.mark.parametrize("fields, says", [
    ({"action": "scores", "probability": "6", "impact": "3"}, "Вероятность: укажите целое число от 1 до 5"),
    ({"action": "scores", "probability": "2", "impact": "x"}, "Влияние: укажите целое число от 1 до 5"),
    ({"action": "status", "status": "gone"}, "Статус: выберите из списка"),
    ({"action": "mitigation", "mitigation": "  "}, "Меры: опишите план"),
    ({"action": "mitigation", "mitigation": "x" * 2001}, "Меры: не больше 2000 символов"),
    ({"action": "reviewed", "note": "bell\x07"}, "Комментарий: управляющие символы не допускаются"),
])
def test_bad_input_shows_the_page_again_with_the_error_and_changes_nothing(url, fields, says):
    client = make_client(url)
    html = client.get(risk_link()).text
    before = len(changes(url, "r1", "risk"))
    r = post(client, html, fields["action"], **{k: v for k, v in fields.items() if k != "action"})
    assert r.status_code == 400 and says in r.text and "Renovation late" in r.text
    assert len(changes(url, "r1", "risk")) == before


def test_a_post_without_the_csrf_pair_is_refused(url):
    client = make_client(url)
    html = client.get(risk_link()).text
    fields = form_fields(html, "status")
    before = len(changes(url, "r1", "risk"))
    r = client.post("/roadmaps/small/risks/r1", data={**fields, "csrf": "forged", "status": "closed"})
    assert r.status_code == 403
    client.cookies.clear()
    r = client.post("/roadmaps/small/risks/r1", data={**fields, "status": "closed"})
    assert r.status_code == 403
    assert risk_row(url).status == "open" and len(changes(url, "r1", "risk")) == before


def test_tampered_expired_foreign_and_not_the_owners_links_get_403_and_no_data(url):
    client = make_client(url)
    good = risk_link()
    payload, signature = good.split("token=")[1].split(".")
    tampered = f"/roadmaps/small/risks/r1?token={payload}.{signature[:-2]}AA"
    refusals = [
        tampered,
        risk_link(day=DAY - timedelta(days=31)),  # expired
        risk_link("r2", "alice").replace("/risks/r2", "/risks/r1"),  # another risk's token
        risk_link("r1", "alice"),  # genuine, but Alice does not own r1
        "/roadmaps/small/risks/r1?token=" + sign_task_token(KEY, "small", "r1", "bob", expiry_for(DAY)),  # a task link
        "/roadmaps/small/risks/r1",
    ]
    for link in refusals:
        r = client.get(link)
        assert r.status_code == 403, link
        assert "Renovation late" not in r.text and "Weekly site meetings" not in r.text
    fields = form_fields(client.get(good).text, "status")
    other = risk_link("r2", "alice").split("token=")[1]
    r = client.post("/roadmaps/small/risks/r1", data={**fields, "token": other, "status": "closed"})
    assert r.status_code == 403 and risk_row(url).status == "open"


def set_away(url: str, key: str, until: date | None, delegate: str | None) -> None:
    from sqlalchemy import update

    from models.schema import Person
    with session_scope(url) as s:
        s.execute(update(Person).where(Person.key == key).values(away_until=until, delegate=delegate))


def test_while_the_risk_owner_is_away_their_delegate_gets_the_risk_mail_with_a_link_that_acts_until_they_are_back(
        url, smtp_env):
    set_away(url, "bob", DAY + timedelta(days=7), "alice")
    page_link = delivered_risk_link(url, smtp_env, "alice@example.org")
    assert mails_to(smtp_env, "bob@example.org") == []  # like his reminders, it goes to whoever reads his mail
    text = mails_to(smtp_env, "alice@example.org")[0]
    assert "Вы получили это письмо вместо владельца риска, пока он отсутствует." in text
    client = make_client(url)
    html = client.get(page_link).text
    r = post(client, html, "reviewed", note="Checked for Bob")
    assert r.status_code == 303 and risk_row(url).reviewed_on == DAY
    assert {(c.field, c.actor) for c in changes(url, "r1", "risk")} >= {("reviewed_on", "Alice <alice@example.org>")}
    set_away(url, "bob", None, None)  # Bob is back: the link no longer acts
    assert client.get(page_link).status_code == 403


def test_the_roadmap_link_of_an_owners_mail_opens_a_read_only_view(url, tmp_path):
    (tmp_path / "reports").mkdir(exist_ok=True)
    (tmp_path / "reports" / "small-2014-W46.docx").write_bytes(b"the office's report")
    plan = plan_reminders(url, None, DAY)
    alice = next(i for i in plan.intents if i.recipient == "alice@example.org").message
    found = re.findall(rf"({re.escape(BASE)}/roadmaps/small\?token=\S+)", alice.text)
    assert len(found) == 1, alice.text
    client = make_client(url)
    view = client.get(path_of(found[0]))
    assert view.status_code == 200 and "Renovation late" in view.text
    assert "small-2014-W46.docx" in view.text and "report.docx" not in view.text  # no office actions
    office = client.get("/roadmaps/small", auth=("office", PASSWORD)).text
    assert 'href="/roadmaps/small/report.docx"' in office
    assert client.get("/roadmaps/small").status_code == 401
    assert client.get("/roadmaps/small/report.docx?" + found[0].split("?")[1]).status_code == 403  # not for it
    assert client.get("/roadmaps/small", auth=("office", PASSWORD)).status_code == 200
    later = make_client(url, NOW + timedelta(days=32))
    assert later.get(path_of(found[0])).status_code == 403  # expires like task links
    foreign = sign_view_token(KEY, "other", "alice", expiry_for(DAY))
    assert client.get(f"/roadmaps/small?token={foreign}").status_code == 403


def test_the_weekly_report_mail_links_each_reader_to_the_read_only_view_while_they_receive_it(
        url, smtp_env, tmp_path, monkeypatch):
    from config import reset_settings_cache
    from tasks.report_jobs import weekly_report

    monkeypatch.setenv("ROADMAP_REPORTS_DIR", str(tmp_path / "reports"))
    reset_settings_cache()
    weekly_report(url, None, DAY, send=True)
    links = {}
    for who in ("boss@example.org", "director@example.org"):  # report_to: a person and a plain address
        (text,) = mails_to(smtp_env, who)
        found = re.findall(rf"({re.escape(BASE)}/roadmaps/small\?token=\S+)", text)
        assert len(found) == 1, text
        links[who] = path_of(found[0])
    client = make_client(url)
    for link in links.values():
        view = client.get(link)
        assert view.status_code == 200 and "Renovation late" in view.text and "report.docx" not in view.text
    with session_scope(url) as s:
        from models.schema import Roadmap
        s.scalar(select(Roadmap)).report_to = ["boss"]  # the director no longer receives the report
    assert client.get(links["director@example.org"]).status_code == 403
    assert client.get(links["boss@example.org"]).status_code == 200


def test_the_roadmap_link_of_an_escalation_is_signed_for_its_reader(url):
    plan = plan_escalation_messages(url, None, DAY)
    bob = next(d for d in plan.todo if d.recipient.email == "bob@example.org")
    text = next(i.message.text for i in plan.intents if i.recipient == "bob@example.org")
    assert bob.recipient.key == "bob" and f"{BASE}/roadmaps/small?token=" in text
    office = next(i.message.text for i in plan.intents if i.recipient == "pmo@example.org")
    assert f"{BASE}/roadmaps/small\n" in office  # the office signs in with its password


def test_an_archived_reader_gets_403(url):
    with session_scope(url) as s:
        from models.schema import Person
        s.scalar(select(Person).where(Person.key == "alice")).archived = True
    token = sign_view_token(KEY, "small", "alice", expiry_for(DAY))
    assert make_client(url).get(f"/roadmaps/small?token={token}").status_code == 403


