"""Rendering digests and escalations into messages: wording, escaping, templates, calendar."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import jinja2
import pytest
from icalendar import Calendar

from models.notify import Digest, Escalation, Recipient, TaskLine
from tasks.mail_message import build_mime
from tasks.render_mail import (
    ICS_CONTENT_TYPE,
    MailTemplateError,
    mail_environment,
    render_digest,
    render_escalation,
)

AS_OF = date(2014, 11, 15)
HTML_TAG = re.compile(r"</?(html|head|body|div|p|br|table|tr|td|a|h\d|span|b|strong)\b", re.I)
OWNER = Recipient("ivan@example.org", "Иван Петров", "ivan")


def mail_kwargs(lang: str = "ru", **extra: object) -> dict[str, object]:
    ru = lang == "ru"
    return {
        "roadmap_title": "Открытая мастерская" if ru else "Open Workshop",
        "roadmap_key": "owm",
        "lang": lang,
        "office_name": "Проектный офис" if ru else "Project office",
        "office_email": "office@example.org",
        "sender": "Roadmap Office <robot@example.org>",
        "message_id": "<digest-1@example.org>",
        **extra,
    }


def line(key: str, reason: str = "before", **kw: object) -> TaskLine:
    defaults: dict[str, object] = {"title": f"Task {key}", "stage": "Подготовка", "due": date(2014, 11, 20)}
    return TaskLine(key=key, reason=reason, **{**defaults, **kw})  # type: ignore[arg-type]


@pytest.fixture
def digest() -> Digest:
    return Digest(OWNER, AS_OF, [
        line("t1", "overdue", title="Согласовать смету", due=date(2014, 11, 7), days_late=5,
             blocked_by=("Получить коммерческое предложение", "Утвердить бюджет")),
        line("t2", "due_today", title="Найти площадку", due=AS_OF),
        line("t3", "before", title="Пригласить экспертов", due=date(2014, 11, 18), days_left=1),
        line("t4", "before", title="Разослать программу", due=date(2014, 11, 20), days_left=3, sequence=2),
        line("t5", "moved", title="Отчёт", due=date(2014, 12, 1), old_due=date(2014, 11, 24), sequence=3),
    ])


def task_escalation(level: int = 2, recipient: Recipient | None = None, **detail: object) -> Escalation:
    return Escalation(
        recipient or Recipient("office@example.org", "Проектный офис"), "task", "t1", "Согласовать смету",
        level, "overdue", "2014-10-31",
        {"due": date(2014, 10, 31), "days_late": 12, "stage": "Подготовка", "status": "in_progress",
         "owner": "Иван Петров", "owner_email": "ivan@example.org", "threshold": 10, **detail},
    )


def risk_escalation(trigger: str = "score", recipient: Recipient | None = None) -> Escalation:
    return Escalation(
        recipient or Recipient("anna@partner.example", "Анна Смирнова", "anna"), "risk", "r1",
        "Срыв аренды площадки", 0, trigger, "20",
        {"probability": 4, "impact": 5, "score": 20, "mitigation": "Резервная площадка в Технограде",
         "review": date(2014, 11, 10), "status": "open", "owner": "Иван Петров", "threshold": 15},
    )


# --- subjects and plurals -----------------------------------------------------------


@pytest.mark.parametrize("n, phrase", [
    (1, "1 задача требует внимания"),
    (3, "3 задачи требуют внимания"),
    (5, "5 задач требуют внимания"),
    (21, "21 задача требует внимания"),
])
def test_russian_subject_agrees_with_the_number_of_tasks(n: int, phrase: str) -> None:
    d = Digest(OWNER, AS_OF, [line(f"t{i}", days_left=5) for i in range(n)])
    msg = render_digest(d, **mail_kwargs())  # type: ignore[arg-type]
    assert msg.subject == f"{phrase} · Открытая мастерская · 15 ноября"


def test_english_subject(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs("en"))  # type: ignore[arg-type]
    assert msg.subject == "5 tasks need attention · Open Workshop · 15 November"


def test_a_task_both_overdue_and_moved_is_counted_once(digest: Digest) -> None:
    digest.lines.append(line("t1", "moved", due=date(2014, 11, 28), old_due=date(2014, 11, 7)))
    msg = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    assert "5 задач требуют внимания" in msg.subject


def test_subject_is_one_line_even_when_the_title_has_line_breaks(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs(roadmap_title="Открытая\nмастерская"))  # type: ignore[arg-type]
    assert "\n" not in msg.subject and "· Открытая мастерская ·" in msg.subject


def test_days_left_and_late_agree_in_russian(digest: Digest) -> None:
    text = render_digest(digest, **mail_kwargs()).text  # type: ignore[arg-type]
    assert "Срок: 18 ноября 2014 г. — остался 1 рабочий день" in text
    assert "Срок: 20 ноября 2014 г. — осталось 3 рабочих дня" in text
    assert "Срок: 7 ноября 2014 г. — просрочено на 5 рабочих дней" in text
    assert "Срок: сегодня, 15 ноября 2014 г." in text
    assert "На 15 ноября 2014 г. в дорожной карте «Открытая мастерская» 5 задач требуют вашего внимания." in text


def test_english_lines(digest: Digest) -> None:
    text = render_digest(digest, **mail_kwargs("en")).text  # type: ignore[arg-type]
    assert "Due: 18 November 2014 — 1 business day left" in text
    assert "Due: 7 November 2014 — 5 business days overdue" in text
    assert "Due date moved: 24 November 2014 → 1 December 2014" in text


# --- parts ---------------------------------------------------------------------------


def test_text_part_is_plain_text(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs(public_url="https://roadmap.example.org"))  # type: ignore[arg-type]
    assert not HTML_TAG.search(msg.text)
    assert "&lt;" not in msg.text and "&amp;" not in msg.text
    assert "https://roadmap.example.org/roadmaps/owm" in msg.text
    assert msg.html is not None and "<html" in msg.html


def test_html_escapes_every_user_supplied_string_and_text_keeps_it_as_is() -> None:
    evil = "<script>alert(1)</script>"
    d = Digest(Recipient("ivan@example.org", f"Иван {evil}", "ivan"), AS_OF, [
        line("t1", "overdue", title=f"Смета {evil}", stage=f"Этап {evil}", days_late=2,
             blocked_by=(f"Бюджет {evil} & Co",)),
    ])
    msg = render_digest(d, **mail_kwargs(roadmap_title=f"Карта {evil}", office_name=f"Офис {evil}"))  # type: ignore[arg-type]
    assert msg.html is not None
    assert "<script>" not in msg.html
    assert msg.html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert "Бюджет &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in msg.html
    assert f"* Смета {evil}" in msg.text and f"«Бюджет {evil} & Co»" in msg.text
    assert "Карта <script>alert" in msg.subject  # the short title: cut at the bracket


def test_escalation_html_escapes_user_strings() -> None:
    evil = "<img src=x onerror=alert(1)>"
    esc = replace(risk_escalation(), title=evil, detail={**risk_escalation().detail, "mitigation": evil, "owner": evil})
    msg = render_escalation(esc, **mail_kwargs())  # type: ignore[arg-type]
    assert msg.html is not None and "<img" not in msg.html and "&lt;img" in msg.html
    assert evil in msg.text


def test_blocking_dependencies_are_listed(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    expected = "Ждёт завершения: «Получить коммерческое предложение», «Утвердить бюджет»"
    assert expected in msg.text
    assert msg.html is not None and expected in msg.html


def test_moved_line_shows_old_and_new_date(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    assert "Срок перенесён: 24 ноября 2014 г. → 1 декабря 2014 г." in msg.text
    assert msg.html is not None and "24 ноября 2014 г. → 1 декабря 2014 г." in msg.html


@pytest.mark.parametrize("n, phrase", [(1, "изменился срок 1 задачи"), (3, "изменились сроки 3 задач"),
                                       (21, "изменились сроки 21 задачи")])
def test_notice_only_digest_says_dates_changed(n: int, phrase: str) -> None:
    lines = [line(f"t{i}", "moved", due=date(2014, 12, 1), old_due=date(2014, 11, 24)) for i in range(n)]
    d = Digest(OWNER, AS_OF, lines)
    assert d.kind == "notice"
    msg = render_digest(d, **mail_kwargs())  # type: ignore[arg-type]
    assert msg.subject == f"{phrase[0].upper()}{phrase[1:]} · Открытая мастерская · 15 ноября"
    assert "требу" not in msg.text
    # agreement by number (issue 13): "за которую" for one task, "за которые" for several
    assert ("за которую вы отвечаете" if n % 10 == 1 and n % 100 != 11 else "за которые вы отвечаете") in msg.text


def test_signed_by_the_project_office_and_replies_go_there(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    assert msg.text.rstrip().splitlines()[-4:-1] == ["-- ", "Проектный офис", "office@example.org"]
    assert ("Reply-To", "office@example.org") in msg.headers
    assert msg.to == ("Иван Петров <ivan@example.org>",)
    assert msg.sender == "Roadmap Office <robot@example.org>"
    assert msg.message_id == "<digest-1@example.org>"


def test_a_bare_sender_address_is_shown_under_the_office_name(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs(sender="robot@example.org"))  # type: ignore[arg-type]
    assert msg.sender == "Проектный офис <robot@example.org>"
    quoted = render_digest(digest, **mail_kwargs(sender="robot@example.org",  # type: ignore[arg-type]
                                                 office_name='PMO, "Moscow"'))
    assert quoted.sender == '"PMO, \\"Moscow\\"" <robot@example.org>'


def test_empty_digest_and_unknown_language_are_refused(digest: Digest) -> None:
    with pytest.raises(ValueError, match="no lines"):
        render_digest(Digest(OWNER, AS_OF, []), **mail_kwargs())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="language"):
        render_digest(digest, **mail_kwargs("de"))  # type: ignore[arg-type]
    assert render_digest(digest, **mail_kwargs("ru_RU")).subject.startswith("5 задач")  # type: ignore[arg-type]


# --- calendar ------------------------------------------------------------------------


def test_ics_attachment_parses_back(digest: Digest) -> None:
    msg = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    (att,) = msg.attachments
    assert att.filename == "owm-2014-11-15.ics"
    assert att.content_type == ICS_CONTENT_TYPE
    cal = Calendar.from_ical(att.data)
    todos = {str(c["UID"]): c for c in cal.walk("VTODO")}
    assert set(todos) == {f"t{i}.owm@roadmap-office" for i in range(1, 6)}
    t4 = todos["t4.owm@roadmap-office"]
    assert int(t4["SEQUENCE"]) == 2
    assert t4["DUE"].dt == date(2014, 11, 20)
    assert str(t4["SUMMARY"]) == "Разослать программу"
    assert "Подготовка" in str(t4["DESCRIPTION"])
    moved = todos["t5.owm@roadmap-office"]
    assert moved["DUE"].dt == date(2014, 12, 1) and int(moved["SEQUENCE"]) == 3
    assert len(list(cal.walk("VEVENT"))) == 5


def test_rendering_is_deterministic(digest: Digest) -> None:
    first = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    again = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    assert first == again
    assert b"DTSTAMP:20141115T000000Z" in first.attachments[0].data


def test_one_calendar_entry_per_task(digest: Digest) -> None:
    digest.lines.append(line("t1", "moved", due=date(2014, 11, 7), old_due=date(2014, 11, 3)))
    cal = Calendar.from_ical(render_digest(digest, **mail_kwargs()).attachments[0].data)  # type: ignore[arg-type]
    uids = [str(c["UID"]) for c in cal.walk("VTODO")]
    assert len(uids) == len(set(uids)) == 5


# --- templates -----------------------------------------------------------------------


def test_user_template_overrides_one_file_only(tmp_path: Path, digest: Digest) -> None:
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "reminder.subject.j2").write_text(
        "[{{ roadmap_key }}] {{ task_count }} — {{ recipient.name }}\n", encoding="utf-8")
    msg = render_digest(digest, **mail_kwargs(template_dir=tmp_path))  # type: ignore[arg-type]
    assert msg.subject == "[owm] 5 — Иван Петров"
    assert "Срок перенесён: 24 ноября 2014 г. → 1 декабря 2014 г." in msg.text  # built-in body
    assert msg.html is not None and "<title>[owm] 5 — Иван Петров</title>" in msg.html
    # The built-in folder alone is unaffected.
    assert render_digest(digest, **mail_kwargs()).subject.startswith("5 задач")  # type: ignore[arg-type]


def test_missing_template_folder_is_an_error(tmp_path: Path, digest: Digest) -> None:
    with pytest.raises(FileNotFoundError):
        render_digest(digest, **mail_kwargs(template_dir=tmp_path / "nope"))  # type: ignore[arg-type]


def test_a_misspelt_keyword_argument_is_refused(digest: Digest) -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: public_ur"):
        render_digest(digest, public_ur="https://roadmap.example.org", **mail_kwargs())  # type: ignore[arg-type]


def test_undefined_variable_raises(tmp_path: Path, digest: Digest) -> None:
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "reminder.txt.j2").write_text("{{ no_such_name }}\n", encoding="utf-8")
    with pytest.raises(MailTemplateError, match="reminder.txt.j2.*no_such_name") as info:
        render_digest(digest, **mail_kwargs(template_dir=tmp_path))  # type: ignore[arg-type]
    assert isinstance(info.value.__cause__, jinja2.UndefinedError)
    with pytest.raises(jinja2.UndefinedError):
        mail_environment(None).from_string("{{ missing }}").render()


def test_environment_escapes_html_templates_only_and_is_cached(tmp_path: Path) -> None:
    env = mail_environment(None)
    assert env is mail_environment(None)
    assert mail_environment(tmp_path) is mail_environment(tmp_path)
    assert mail_environment(tmp_path) is not env
    assert callable(env.autoescape)
    assert env.autoescape("mail/reminder.html.j2")
    assert not env.autoescape("mail/reminder.txt.j2")
    assert not env.autoescape("mail/reminder.subject.j2")
    assert "format_date" in env.filters and "jinja2.ext.InternationalizationExtension" in env.extensions


# --- escalations -----------------------------------------------------------------------


def test_task_escalation_level_2_to_the_office() -> None:
    msg = render_escalation(task_escalation(), **mail_kwargs())  # type: ignore[arg-type]
    assert msg.subject == "Эскалация: 1 просроченная задача · Открытая мастерская · 12 ноября"
    assert "Просроченные задачи, 2-й уровень: проектный офис" in msg.text and "* Согласовать смету" in msg.text
    assert "Вы получили это письмо как проектный офис." in msg.text
    assert "Ответственный: Иван Петров (ivan@example.org)" in msg.text
    assert "Срок: 31 октября 2014 г." in msg.text
    assert "Просрочка: 12 рабочих дней" in msg.text
    assert "просрочена на 10 рабочих дней и больше" in msg.text
    assert msg.attachments == ()
    assert msg.to == ("Проектный офис <office@example.org>",)
    assert not HTML_TAG.search(msg.text)


def test_task_escalation_level_1_in_english() -> None:
    esc = task_escalation(level=1, recipient=Recipient("petr@example.org", "Petr", "petr"),
                          days_late=3, threshold=3)
    msg = render_escalation(esc, **mail_kwargs("en"))  # type: ignore[arg-type]
    assert msg.subject == "Escalation: 1 overdue task · Open Workshop · 3 November"
    assert "Overdue tasks, level 1: managers and partners" in msg.text
    assert "the owner's manager or a partner's contact" in msg.text
    assert "Due: 31 October 2014" in msg.text


def test_planner_given_role_wins() -> None:
    esc = task_escalation(level=1, recipient=Recipient("petr@example.org", "Пётр", "petr"), role="manager")
    msg = render_escalation(esc, **mail_kwargs())  # type: ignore[arg-type]
    assert "Вы получили это письмо как руководитель ответственного." in msg.text


def test_risk_score_escalation_shows_the_numbers() -> None:
    msg = render_escalation(risk_escalation(), **mail_kwargs())  # type: ignore[arg-type]
    assert msg.subject.startswith("Эскалация: 1 риск · Открытая мастерская · ")
    assert "Риски на пороге и выше" in msg.text and "оценка (вероятность × влияние) достигает 15" in msg.text
    for expected in ("4 × 5 = 20 (вероятность × влияние)", "Меры: Резервная площадка в Технограде",
                     "Пересмотр: 10 ноября 2014 г.", "Владелец риска: Иван Петров",
                     "Вы получили это письмо как контакт партнёра."):
        assert expected in msg.text
    assert msg.html is not None and "4 × 5 = 20" in msg.html


@pytest.mark.parametrize("trigger, recipient, subject_end, why", [
    ("occurred", Recipient("ivan@example.org", "Иван Петров", "ivan"), "Risks that have occurred", "as the risk owner"),
    ("review", Recipient("office@example.org", "Project office"), "Risks not reviewed on time",
     "as the project office"),
])
def test_other_risk_triggers_in_english(trigger: str, recipient: Recipient, subject_end: str, why: str) -> None:
    msg = render_escalation(risk_escalation(trigger, recipient), **mail_kwargs("en"))  # type: ignore[arg-type]
    assert msg.subject.startswith("Escalation: 1 risk · Open Workshop · ") and subject_end in msg.text
    assert "* Срыв аренды площадки" in msg.text and ".." not in msg.text
    assert why in msg.text and "4 × 5 = 20 (probability × impact)" in msg.text


# --- MIME --------------------------------------------------------------------------------


def test_cyrillic_subject_and_name_round_trip_through_mime(digest: Digest) -> None:
    out = render_digest(digest, **mail_kwargs())  # type: ignore[arg-type]
    parsed = email.message_from_bytes(bytes(build_mime(out)), policy=email.policy.default)
    assert parsed["Subject"] == out.subject
    assert parsed["To"].addresses[0].display_name == "Иван Петров"
    assert parsed["Reply-To"] == "office@example.org"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "остался 1 рабочий день" in body.get_content()
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "Согласовать смету" in html.get_content()
    (ics,) = [p for p in parsed.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "owm-2014-11-15.ics"
    assert ics.get_param("method") == "PUBLISH"
    assert Calendar.from_ical(ics.get_payload(decode=True)).walk("VTODO")


def test_task_links_without_a_public_url_are_paths_on_the_same_server():
    from datetime import date

    from tasks.render_mail import task_links

    links = task_links("k" * 32, "", "road map", "t/1", "alice", date(2014, 11, 10))
    assert links.page.startswith("/roadmaps/road%20map/tasks/t%2F1?token=")
    assert links.done == links.page + "&action=done"
    with_base = task_links("k" * 32, "https://office.example.org/", "small", "a", "alice", date(2014, 11, 10))
    assert with_base.page.startswith("https://office.example.org/roadmaps/small/tasks/a?token=")


def test_a_users_phrases_from_an_older_version_fall_back_to_the_built_in_ones(tmp_path: Path, digest: Digest) -> None:
    """A user's _phrases.j2 with only the greeting: the greeting is theirs, every other phrase
    (the subject's count, the section titles) the built-in one."""
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "_phrases.j2").write_text(
        "{% macro greeting(name) %}Dear {{ name }},{% endmacro %}\n", encoding="utf-8")
    msg = render_digest(digest, **mail_kwargs(template_dir=tmp_path))  # type: ignore[arg-type]
    assert msg.text.startswith("Dear Иван Петров,")
    assert msg.subject == render_digest(digest, **mail_kwargs()).subject  # type: ignore[arg-type]
    assert "Срок перенесён: 24 ноября 2014 г. → 1 декабря 2014 г." in msg.text
