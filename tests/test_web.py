"""The web app over HTTP (FastAPI's TestClient), on SQLite and PostgreSQL: every action of
the task page, the token and CSRF rules, escaping, the roadmap page and its protection,
away/delegate in the digests, and `roadmap web` refusing to start without a secret key.

The small roadmap (tests/data/small.yaml) on Monday 10 Nov 2014: Survey (a, Alice) is
3 business days late, Design (b) and Approval (d) wait for it, Build (f) waits for d.
It is a Russian roadmap; tests of what a page says run on it and, parametrized with
``language="en"``, on the same roadmap with ``language: en``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from config import Settings, reset_settings_cache
from models.db import session_scope
from models.errors import UserError
from models.schema import Change, Person, Risk, Task
from models.tokens import OFFICE, expiry_for, sign_office_token, sign_task_token
from tasks.notify_jobs import plan_escalation_messages, plan_reminders
from tasks.render_mail import task_links
from tasks.roadmap_jobs import import_file

KEY = "web-test-secret-key"
PASSWORD = "office-pass-123"
BASE = "http://127.0.0.1:8000"
DAY = date(2014, 11, 10)
NOW = datetime(2014, 11, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def make_client(url: str, now: datetime = NOW) -> TestClient:
    from web.app import create_app

    app = create_app(url, Settings(), clock=lambda: now)
    return TestClient(app, base_url=BASE)


def web_env(monkeypatch: pytest.MonkeyPatch, public_url: str = BASE) -> None:
    monkeypatch.setenv("ROADMAP_SECRET_KEY", KEY)
    monkeypatch.setenv("ROADMAP_WEB_PASSWORD", PASSWORD)
    monkeypatch.setenv("ROADMAP_PUBLIC_URL", public_url)
    reset_settings_cache()


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def link(task: str = "a", person: str = "alice", day: date = DAY) -> str:
    return path_of(task_links(KEY, BASE, "small", task, person, day).page)


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form that posts ``action``."""
    form = re.search(rf'<form[^>]*>(?:(?!</form>).)*name="action" value="{action}".*?</form>', html, re.S)
    assert form, f"no {action} form on the page"
    return {name: unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0))}


def post(client: TestClient, task: str, page_html: str, action: str, **fields: str):
    data = {**form_fields(page_html, action), **fields}
    return client.post(f"/roadmaps/small/tasks/{task}", data=data, follow_redirects=False)


def task_row(url: str, key: str) -> Task:
    with session_scope(url) as s:
        return s.scalar(select(Task).where(Task.key == key))


def changes(url: str, key: str, entity: str = "task") -> list[Change]:
    with session_scope(url) as s:
        return list(s.scalars(select(Change).where(Change.entity_key == key, Change.entity == entity)
                              .order_by(Change.id)))


@pytest.fixture
def language() -> str:
    """The roadmap's language; a test parametrized with ``language`` overrides it."""
    return "ru"  # as tests/data/small.yaml


@pytest.fixture
def url(db_url, small_yaml, monkeypatch, tmp_path, language):
    web_env(monkeypatch)
    path = small_yaml
    if language != "ru":
        path = tmp_path / f"small-{language}.yaml"
        path.write_text(small_yaml.read_text(encoding="utf-8").replace("language: ru", f"language: {language}"),
                        encoding="utf-8")
    import_file(db_url, path)
    return db_url


BOTH = pytest.mark.parametrize("language", ["ru", "en"])


def says(language: str, ru: str, en: str) -> str:
    return {"ru": ru, "en": en}[language]


@pytest.fixture
def client(url):
    return make_client(url)


def open_page(client: TestClient, page_link: str) -> str:
    r = client.get(page_link)
    assert r.status_code == 200, r.text
    return r.text


# --- the actions --------------------------------------------------------------------


def test_mark_done_records_history_from_the_web_and_the_person(client, url):
    page = open_page(client, link() + "&action=done")
    assert 'id="done"' in page and "autofocus" in page
    waiting = page.split("Задачи, которые ждут эту")[1].split("</table>")[0]
    assert "Design" in waiting and "Kick-off" in waiting and "Approval" not in waiting
    r = post(client, "a", page, "done", on="2014-11-07")
    assert r.status_code == 303
    a = task_row(url, "a")
    assert (a.status, a.done_on, a.progress) == ("done", date(2014, 11, 7), 100)
    status = [c for c in changes(url, "a") if c.field == "status"][-1]
    assert (status.source, status.actor, status.new) == ("web", "Alice <alice@example.org>", "done")
    after = client.get(r.headers["location"])
    assert after.status_code == 200 and "Сохранено" in after.text


@BOTH
def test_done_in_the_future_is_refused_and_changes_nothing(client, url, language):
    page = open_page(client, link())
    r = post(client, "a", page, "done", on="2014-11-11")
    assert r.status_code == 400
    assert says(language, "Дата выполнения: эта дата ещё не наступила", "Done on: that date is in the future") in r.text
    assert task_row(url, "a").status == "planned"


def test_progress_is_saved_and_starts_a_planned_task(client, url):
    page = open_page(client, link())
    assert post(client, "a", page, "progress", progress="40", note="halfway there").status_code == 303
    a = task_row(url, "a")
    assert (a.progress, a.status) == (40, "in_progress")
    assert {c.field for c in changes(url, "a") if c.source == "web"} == {"progress", "status"}


@BOTH
@pytest.mark.parametrize("value", ["150", "-1", "lots"])
def test_bad_progress_is_refused(client, url, value, language):
    page = open_page(client, link())
    r = post(client, "a", page, "progress", progress=value)
    assert r.status_code == 400
    error = re.search(r'<div class="card error" role="alert">(.*?)</div>', r.text).group(1)
    assert error == says(language, "Прогресс: укажите целое число от 0 до 100",
                         "Progress: give a whole number from 0 to 100")
    assert task_row(url, "a").progress in (None, 0)


def test_a_done_date_long_before_the_session_is_refused_in_the_pages_words(client, url):
    page = open_page(client, link())
    r = post(client, "a", page, "done", on="2013-01-01")
    assert r.status_code == 400 and "нет ли опечатки" in r.text and "--on" not in r.text
    assert task_row(url, "a").status == "planned"


def test_new_forecast_moves_dependents_and_their_owners_hear_of_it_next_day(client, url):
    before = {k: task_row(url, k).due for k in "bdf"}
    page = open_page(client, link())
    r = post(client, "a", page, "forecast", forecast="2014-11-20", reason="Supplier late")
    assert r.status_code == 303 and "moved=" in r.headers["location"]
    assert task_row(url, "a").forecast == date(2014, 11, 20)
    after = {k: task_row(url, k).due for k in "bdf"}
    assert all(after[k] > before[k] for k in "bdf")
    note = [c for c in changes(url, "a") if c.field == "forecast"][-1]
    assert (note.source, note.note) == ("web", "Supplier late")
    assert any(c.source == "schedule" and c.field == "due" for c in changes(url, "d"))
    plan = plan_reminders(url, None, date(2014, 11, 11))
    bob = next(i for i in plan.intents if i.recipient == "bob@example.org")
    assert "Approval" in bob.message.text and bob.change_ids  # d's owner gets the notice


def test_a_forecast_needs_a_reason_and_a_date_not_in_the_past(client, url):
    page = open_page(client, link())
    assert post(client, "a", page, "forecast", forecast="2014-11-20", reason="  ").status_code == 400
    assert post(client, "a", page, "forecast", forecast="2014-11-01", reason="x").status_code == 400
    assert post(client, "a", page, "forecast", forecast="soon", reason="x").status_code == 400
    assert task_row(url, "a").forecast is None


def test_blocked_with_a_reason(client, url):
    page = open_page(client, link())
    assert post(client, "a", page, "blocked", reason="").status_code == 400
    assert post(client, "a", page, "blocked", reason="Waiting for the landlord").status_code == 303
    assert task_row(url, "a").status == "blocked"
    assert [c.note for c in changes(url, "a") if c.field == "status"][-1] == "Waiting for the landlord"


def test_script_in_a_reason_is_escaped_on_the_page(client, url):
    page = open_page(client, link())
    r = post(client, "a", page, "blocked", reason="<script>alert('x')</script>")
    shown = client.get(r.headers["location"]).text
    assert "<script>alert" not in shown
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in shown
    assert "script-src" not in shown and "default-src 'none'" in client.get(link()).headers["content-security-policy"]


def test_an_oversized_form_is_refused(client, url):
    page = open_page(client, link())
    r = post(client, "a", page, "blocked", reason="x" * 70_000)
    assert r.status_code == 413 and task_row(url, "a").status == "planned"
    assert "Текст слишком длинный" in r.text
    r = post(client, "a", page, "blocked", reason="x" * 2001)
    assert r.status_code == 400 and "2000" in r.text


def test_script_in_a_refused_form_is_escaped_too(client, url):
    page = open_page(client, link())
    r = post(client, "a", page, "forecast", forecast="never", reason="<script>x()</script>")
    assert r.status_code == 400 and "<script>x()" not in r.text and "&lt;script&gt;x()" in r.text


# --- away and delegate ----------------------------------------------------------------


def test_away_hands_reminders_to_the_delegate_and_escalations_still_go_up(client, url):
    page = open_page(client, link())
    assert post(client, "a", page, "away", until="2014-11-14", delegate="carol").status_code == 303
    with session_scope(url) as s:
        alice = s.scalar(select(Person).where(Person.key == "alice"))
        assert (alice.away_until, alice.delegate) == (date(2014, 11, 14), "carol")
    assert {(c.field, c.source, c.actor) for c in changes(url, "alice", "person") if c.source != "import"} == {
        ("away_until", "web", "Alice <alice@example.org>"), ("delegate", "web", "Alice <alice@example.org>")}

    plan = plan_reminders(url, None, date(2014, 11, 12))
    to = {i.recipient: i for i in plan.intents}
    assert "alice@example.org" not in to
    carol = to["carol@example.org"].message
    assert "Survey" in carol.text and "Вместо: Alice" in carol.text and "как замещающий" in carol.text
    # The delegate's links name the delegate, and work for Alice's task while she is away.
    done = re.search(r"Отметить выполненной: (\S+)", carol.text).group(1)
    assert make_client(url, NOW + timedelta(days=2)).get(path_of(done)).status_code == 200

    escalations = plan_escalation_messages(url, None, date(2014, 11, 12))
    assert "boss@example.org" in {i.recipient for i in escalations.intents}  # Alice's manager, not Carol's chain

    # After the absence the delegate's link no longer works: she is not responsible any more.
    later = make_client(url, datetime(2014, 11, 17, 9, tzinfo=UTC))
    r = later.get(path_of(done))
    assert r.status_code == 403 and "больше не отвечает за эту задачу" in r.text


def test_a_delegate_with_tasks_of_their_own_gets_one_digest_with_both(client, url):
    page = open_page(client, link())
    post(client, "a", page, "away", until="2014-11-14", delegate="bob")
    plan = plan_reminders(url, None, date(2014, 11, 12))
    bob = [i for i in plan.intents if i.recipient == "bob@example.org"]
    assert len(bob) == 1 and not any(i.recipient == "alice@example.org" for i in plan.intents)
    text = bob[0].message.text
    assert "Survey" in text and "Agreement" in text  # Alice's, and his own
    own = text.split("* Agreement")[1].split("* ")[0]
    assert "Вместо" not in own and "Вместо: Alice" in text.split("* Survey")[1].split("* ")[0]


def test_back_clears_the_absence(client, url):
    page = open_page(client, link())
    post(client, "a", page, "away", until="2014-11-14", delegate="bob")
    page = open_page(client, link())
    assert "I am back" in page or "Я вернулся" in page
    assert post(client, "a", page, "back").status_code == 303
    with session_scope(url) as s:
        alice = s.scalar(select(Person).where(Person.key == "alice"))
        assert (alice.away_until, alice.delegate) == (None, None)


@BOTH
@pytest.mark.parametrize("fields, ru, en", [
    ({"until": "2014-11-14", "delegate": "alice"}, "Замещающий: выберите другого человека", "someone else"),
    ({"until": "2014-11-14", "delegate": "nobody"}, "Замещающий: выберите человека из списка", "from the list"),
    ({"until": "2014-11-01", "delegate": "bob"}, "В отъезде до: эта дата уже прошла", "past"),
])
def test_bad_absences_are_refused(client, url, fields, ru, en, language):
    page = open_page(client, link())
    r = post(client, "a", page, "away", **fields)
    assert r.status_code == 400 and says(language, ru, en) in r.text


# --- token rules ---------------------------------------------------------------------


def assert_refused(r, text: str) -> None:
    assert r.status_code == 403
    assert text in r.text and "<form" not in r.text


@BOTH
def test_a_tampered_link_gets_403_and_changes_nothing(client, url, language):
    good = link()
    bad = good[:-3] + ("xyz" if not good.endswith("xyz") else "abc")
    assert_refused(client.get(bad), says(language, "Ссылка недействительна", "not valid"))
    page = open_page(client, good)
    fields = {**form_fields(page, "done"), "on": "2014-11-10"}
    fields["token"] = fields["token"][:-2] + "AA"
    r = client.post("/roadmaps/small/tasks/a", data=fields)
    assert r.status_code == 403 and task_row(url, "a").status == "planned"


@BOTH
def test_an_expired_link_gets_403(url, language):
    late = make_client(url, expiry_for(DAY) + timedelta(seconds=1))
    assert_refused(late.get(link()), says(language, "Срок действия ссылки истёк 10 декабря 2014 г.",
                                          "This link expired on 10 December 2014"))


def test_a_link_for_another_task_gets_403(client, url):
    other = link(task="b").replace("/tasks/b?", "/tasks/a?")
    assert_refused(client.get(other), "относится к другой задаче")
    page = open_page(client, link(task="b"))
    r = client.post("/roadmaps/small/tasks/a", data={**form_fields(page, "done"), "on": "2014-11-10"})
    assert r.status_code == 403 and task_row(url, "a").status == "planned"


@BOTH
def test_a_link_for_a_person_not_responsible_gets_403(client, url, language):
    text = says(language, "больше не отвечает за эту задачу", "no longer responsible")
    assert_refused(client.get(link(person="carol")), text)  # Survey is not Carol's
    assert_refused(client.get(link(person="nobody")), text)


def test_a_link_signed_with_another_key_gets_403(client):
    token = sign_task_token("some-other-key", "small", "a", "alice", expiry_for(DAY))
    assert_refused(client.get(f"/roadmaps/small/tasks/a?token={token}"), "Ссылка недействительна")


def test_managers_partner_contacts_and_the_office_may_use_their_links(client):
    assert client.get(link(person="boss")).status_code == 200
    assert client.get(link(task="c", person="carol")).status_code == 200
    assert client.get(link(person=OFFICE)).status_code == 200


@BOTH
def test_no_token_gets_403(client, language):
    assert_refused(client.get("/roadmaps/small/tasks/a"), says(language, "Ссылка неполная", "incomplete"))


# --- CSRF ----------------------------------------------------------------------------


@BOTH
def test_a_post_without_the_csrf_cookie_is_refused(client, url, language):
    page = open_page(client, link())
    client.cookies.clear()
    r = client.post("/roadmaps/small/tasks/a", data={**form_fields(page, "done"), "on": "2014-11-10"})
    assert r.status_code == 403 and says(language, "Форма устарела", "form has expired") in r.text
    assert task_row(url, "a").status == "planned"


def test_a_post_with_a_wrong_csrf_value_is_refused(client, url):
    page = open_page(client, link())
    fields = {**form_fields(page, "done"), "on": "2014-11-10"}
    for bad in ("", "x" * 43, "ж" * 43, form_fields(open_page(client, link(person="boss")), "done")["csrf"]):
        r = client.post("/roadmaps/small/tasks/a", data={**fields, "csrf": bad})
        assert r.status_code == 403
    assert task_row(url, "a").status == "planned"


def test_the_csrf_cookie_is_httponly_and_samesite_strict(client):
    r = client.get(link())
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"


# --- the roadmap page ------------------------------------------------------------------


def test_the_roadmap_page_needs_the_password_or_an_office_link(client):
    r = client.get("/roadmaps/small")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert client.get("/roadmaps/small", auth=("office", "wrong")).status_code == 401
    assert client.get("/roadmaps/small", auth=("anyone", PASSWORD)).status_code == 200
    office = sign_office_token(KEY, "small", expiry_for(DAY))
    assert client.get(f"/roadmaps/small?token={office}").status_code == 200
    task_token = link().split("token=")[1]
    assert client.get(f"/roadmaps/small?token={task_token}").status_code == 403  # a task link opens one task only
    foreign = sign_office_token(KEY, "other", expiry_for(DAY))
    assert client.get(f"/roadmaps/small?token={foreign}").status_code == 403


def test_the_roadmap_page_shows_stages_chart_overdue_upcoming_and_risks(client):
    html = client.get("/roadmaps/small", auth=("office", PASSWORD)).text
    for text in ("Stage one", "Stage two", 'class="gbar', "Survey", "Agreement", "Renovation late", "4×4 = 16"):
        assert text in html
    assert html.index("Renovation late") < html.index("Low attendance")  # by score
    overdue = html.split("Просрочено (2)")[1].split("</table>")[0]
    assert "Survey" in overdue and "Agreement" in overdue and "Build" not in overdue


def test_the_latest_report_can_be_downloaded(client, url, tmp_path):
    reports = tmp_path / "reports"
    assert "Отчётов пока нет" in client.get("/roadmaps/small", auth=("o", PASSWORD)).text
    assert client.get("/roadmaps/small/report.docx", auth=("o", PASSWORD)).status_code == 404
    reports.mkdir(exist_ok=True)
    (reports / "small-2014-W45.docx").write_bytes(b"older")
    (reports / "small-2014-W46.docx").write_bytes(b"newest")
    (reports / "smaller-2014-W50.docx").write_bytes(b"another roadmap")
    assert "small-2014-W46.docx" in client.get("/roadmaps/small", auth=("o", PASSWORD)).text
    r = client.get("/roadmaps/small/report.docx", auth=("o", PASSWORD))
    assert r.status_code == 200 and r.content == b"newest"
    assert client.get("/roadmaps/small/report.docx").status_code == 401


def test_user_text_on_the_roadmap_page_is_escaped(client, url):
    with session_scope(url) as s:
        s.scalar(select(Task).where(Task.key == "a")).title = "<b>Survey</b><script>1</script>"
    html = client.get("/roadmaps/small", auth=("o", PASSWORD)).text
    assert "<script>1" not in html and "&lt;script&gt;1" in html


def test_an_unknown_roadmap_is_404(client):
    assert client.get("/roadmaps/nope", auth=("o", PASSWORD)).status_code == 404


# --- mail links and the command ---------------------------------------------------------


def test_every_task_line_of_a_digest_carries_links_for_its_reader(url):
    plan = plan_reminders(url, None, DAY)
    alice = next(i for i in plan.intents if i.recipient == "alice@example.org").message
    links = re.findall(r"Отметить выполненной: (\S+)", alice.text)
    # a and b are due soon; f is new to alice (the first run after the import kicks it off)
    assert len(links) == 3 and all(link.startswith(BASE + "/roadmaps/small/tasks/") for link in links)
    assert alice.html.count("Отметить выполненной</a>") == 3
    client = make_client(url)
    assert all(client.get(path_of(link)).status_code == 200 for link in links)


def test_task_escalations_carry_links_and_risk_escalations_do_not(url):
    plan = plan_escalation_messages(url, None, DAY)
    boss = [i.message for i in plan.intents if i.recipient == "boss@example.org"]
    assert boss and all("Отметить выполненной:" in m.text for m in boss)
    # A digest of risks only (its items' keys; the digest's own key names no item) has no task links.
    risk = [i.message for i in plan.intents if all(k.startswith("escalation:risk:") for k in i.item_keys)]
    assert risk and not any("Отметить выполненной" in m.text for m in risk)


def test_without_a_secret_key_mails_have_no_links(url, monkeypatch):
    monkeypatch.delenv("ROADMAP_SECRET_KEY")
    reset_settings_cache()
    plan = plan_reminders(url, None, DAY)
    assert plan.intents and not any("token=" in i.message.text for i in plan.intents)


def test_roadmap_web_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    from cli.main import app

    monkeypatch.delenv("ROADMAP_SECRET_KEY", raising=False)
    reset_settings_cache()
    result = CliRunner().invoke(app, ["web", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 2
    assert "ROADMAP_SECRET_KEY is not set" in result.output


def test_roadmap_web_refuses_a_short_secret_key(monkeypatch, tmp_path):
    from cli.main import app

    monkeypatch.setenv("ROADMAP_SECRET_KEY", "x" * 8)
    reset_settings_cache()
    result = CliRunner().invoke(app, ["web", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 2
    assert "shorter than 16 characters" in result.output and "x" * 8 not in result.output


def test_create_app_refuses_a_blank_secret(monkeypatch, url):
    from web.app import create_app

    monkeypatch.setenv("ROADMAP_SECRET_KEY", "   ")
    with pytest.raises(UserError, match="ROADMAP_SECRET_KEY is not set"):
        create_app(url, Settings())


@pytest.mark.parametrize("start", ["create_app", "uvicorn factory"])
def test_every_way_of_starting_the_web_app_refuses_a_short_secret_key(monkeypatch, url, start):
    from web.app import app_from_environment, create_app

    monkeypatch.setenv("ROADMAP_SECRET_KEY", "y" * 15)
    monkeypatch.setenv("ROADMAP_DATABASE_URL", url)
    with pytest.raises(UserError, match="shorter than 16 characters") as refused:
        app_from_environment() if start == "uvicorn factory" else create_app(url, Settings())
    assert "y" * 15 not in str(refused.value)
    monkeypatch.setenv("ROADMAP_SECRET_KEY", "y" * 16)
    assert app_from_environment() if start == "uvicorn factory" else create_app(url, Settings())


# --- the roadmap's language on every page ------------------------------------------------


ENGLISH_ON_A_RUSSIAN_PAGE = ("This link", "not valid", "Progress:", "give a", "choose", ">open<", ">occurred<",
                             ">progress<", ">done_on<", ">status<", "in_progress", ">web:", ">import<")


def assert_russian(html: str) -> None:
    assert '<html lang="ru">' in html
    found = [t for t in ENGLISH_ON_A_RUSSIAN_PAGE if t in html]
    assert not found, found


def test_a_tampered_link_on_a_russian_roadmap_says_why_in_russian(client):
    good = link()
    r = client.get(good[:-3] + ("xyz" if not good.endswith("xyz") else "abc"))
    assert r.status_code == 403
    assert "<title>Ссылка не работает · Проектный офис</title>" in r.text
    assert "<h1>Ссылка не работает</h1>" in r.text
    assert "Ссылка недействительна: её изменили, или её выдал не этот сервер." in r.text
    assert_russian(r.text)


def test_a_progress_error_on_a_russian_roadmap_is_in_russian(client, url):
    r = post(client, "a", open_page(client, link()), "progress", progress="lots")
    assert r.status_code == 400
    assert '<div class="card error" role="alert">Прогресс: укажите целое число от 0 до 100</div>' in r.text
    assert_russian(r.text)


@BOTH
def test_risk_statuses_are_words_of_the_roadmaps_language(client, url, language):
    with session_scope(url) as s:
        s.scalar(select(Risk).where(Risk.key == "r2")).status = "occurred"
    html = client.get("/roadmaps/small", auth=("office", PASSWORD)).text
    risks = html.split("Risks by score" if language == "en" else "Риски по оценке")[1].split("</table>")[0]
    renovation = risks.split("Renovation late")[1].split("</tr>")[0]
    attendance = risks.split("Low attendance")[1].split("</tr>")[0]
    assert says(language, ">открыт<", ">open<") in renovation
    assert says(language, ">наступил<", ">occurred<") in attendance
    if language == "ru":
        assert_russian(html)


@BOTH
def test_history_lines_on_the_task_page_are_in_the_roadmaps_language(client, url, language):
    page = open_page(client, link())
    assert post(client, "a", page, "progress", progress="40", note="halfway there").status_code == 303
    html = open_page(client, link())
    table = html.split(says(language, "<h2>История</h2>", "<h2>History</h2>"))[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows[1:]]
    web = [c[1:] for c in cells if c and c[4].startswith(says(language, "веб-страница: ", "web: "))]
    by = says(language, "веб-страница: Alice &lt;alice@example.org&gt;", "web: Alice &lt;alice@example.org&gt;")
    assert [says(language, "статус", "status"), says(language, "запланирована", "planned"),
            says(language, "в работе", "in progress"), by, "halfway there"] in web
    assert [says(language, "прогресс", "progress"), "", "40", by, "halfway there"] in web
    assert any(c[1] == says(language, "добавлено", "added") and c[4] == says(language, "импорт файла", "file import")
               for c in cells)
    if language == "ru":
        assert_russian(html)


def test_a_done_task_shows_its_done_date_field_in_russian(client, url):
    assert post(client, "a", open_page(client, link()), "done", on="2014-11-07").status_code == 303
    html = open_page(client, link())
    assert "<td>дата выполнения</td>" in html and "<td>выполнена</td>" in html
    assert_russian(html)
