"""The wording of the web pages in the roadmap's language (ru or en); templates get it as ``s``.

Every word a web page shows comes from here, refusals and form errors too: the code raises
a key and its values (``TokenError.code``, ``FormError``, ``Refused``) and ``text`` says it
in the page's language. Both languages have the same keys (tests/test_web.py checks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.i18n import format_date

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app": "Roadmap Office",
        "stage": "Stage", "owner": "Owner", "due": "Due", "status": "Status", "progress": "Progress",
        "forecast": "Forecast", "late": "business days late", "waiting_for": "Waiting for",
        "dependents": "Tasks that wait for this one", "history": "History", "you_are": "This link is for",
        "office": "the project office", "saved": "Saved.", "moved": "Dates of {n} dependent tasks moved; their owners will be told in their next reminder.",
        "done_title": "Mark done", "done_on": "Done on", "note": "Note (optional)", "done_button": "Mark done",
        "progress_title": "Report progress", "progress_label": "Progress, %", "progress_button": "Save progress",
        "forecast_title": "New date", "forecast_label": "New finish date", "reason": "Reason",
        "forecast_button": "Save the new date",
        "blocked_title": "Blocked", "blocked_button": "Mark blocked",
        "away_title": "Away: hand my reminders to a delegate", "away_until": "Away until",
        "delegate": "Delegate", "away_button": "Hand over", "back_button": "I am back",
        "away_now": "You are away until {until}; {name} receives your reminders.",
        "st_planned": "planned", "st_in_progress": "in progress", "st_done": "done", "st_blocked": "blocked",
        "st_cancelled": "cancelled",
        "as_of": "as of", "stages": "Stages", "gantt": "Schedule", "overdue": "Overdue", "upcoming": "Due in the next two weeks",
        "risks": "Risks by score", "report": "Latest weekly report", "no_report": "No weekly report yet.",
        "tasks": "tasks", "done": "done", "amber": "at risk", "blocked": "blocked", "none": "None.",
        "more": "and {n} more", "title": "Title", "score": "Score", "mitigation": "Mitigation", "end": "End",
        "forecast_end": "Forecast end", "rag": "RAG", "escalation": "Escalation", "today": "today",
        "gantt_more": "{n} more critical tasks not shown.", "closed_task": "This task is {status}.",
        "field": "Field", "old": "Old", "new": "New", "by": "By", "when": "When",
        "rag_green": "green", "rag_amber": "amber", "rag_red": "red", "rag_grey": "grey",
        "risk_open": "open", "risk_mitigated": "mitigated", "risk_occurred": "occurred", "risk_closed": "closed",
        # History: field names, where a change came from, values that are words.
        "f_added": "added", "f_archived": "archived", "f_restored": "restored", "f_note": "note",
        "f_status": "status", "f_progress": "progress", "f_done_on": "done on", "f_forecast": "forecast",
        "f_due": "due", "f_start": "start", "f_finish": "finish", "f_title": "title", "f_stage": "stage",
        "f_workstream": "workstream", "f_owner": "owner", "f_partners": "partners", "f_depends_on": "depends on",
        "f_start_expr": "start (as written)", "f_due_expr": "due (as written)", "f_duration": "duration, business days",
        "f_notes": "notes", "f_away_until": "away until", "f_delegate": "delegate", "f_name": "name",
        "f_email": "email", "f_manager": "manager", "f_partner": "partner",
        "src_web": "web", "src_cli": "command line", "src_import": "file import", "src_schedule": "rescheduling",
        "yes": "yes", "no": "no",
        # Refused requests (error.html.j2): titles, then messages.
        "t_link": "This link does not work", "t_not_found": "Not found", "t_too_long": "Too long",
        "t_csrf": "The form has expired", "t_sign_in": "Sign in", "t_no_report": "No report yet",
        "tok_incomplete": "This link is incomplete: it may have been cut when copied from the email.",
        "tok_damaged_copy": "This link is damaged: it may have been cut when copied from the email.",
        "tok_damaged": "This link is damaged.",
        "tok_signature": "This link is not valid: it was changed, or it was not issued by this server.",
        "tok_purpose": "This link is meant for another page.",
        "tok_expired": "This link expired on {expires}. The next reminder email brings a fresh one, "
                       "or ask the project office.",
        "tok_roadmap": "This link belongs to another roadmap.",
        "tok_task": "This link belongs to another task: use the link next to this task in your email.",
        "tok_invalid": "This link is not valid.",
        "ref_no_roadmap": "There is no such roadmap.", "ref_task_gone": "The task is no longer in the roadmap.",
        "ref_not_responsible": "This link was issued to someone who is no longer responsible for this task.",
        "ref_too_long": "The text is too long. Nothing was changed.",
        "ref_csrf": "This form could not be checked (it is old, or it was sent from another site). "
                    "Open the link from your email again and repeat the change. Nothing was changed.",
        "ref_sign_in": "This page is for the project office: sign in with the office password, or open the office link.",
        "ref_no_report": "No weekly report has been written for this roadmap yet.",
        # Refused forms (web/actions.py FormError): the field's label, then what is wrong.
        "l_done_on": "Done on", "l_note": "Note", "l_forecast": "New date", "l_reason": "Reason",
        "l_away_until": "Away until", "l_delegate": "Delegate", "l_progress": "Progress", "l_away": "Away",
        "err_date": "{field}: give a date (YYYY-MM-DD)", "err_why": "{field}: please say why",
        "err_too_long": "{field}: at most {n} characters", "err_future": "{field}: that date is in the future",
        "err_past": "{field}: that date is in the past",
        "err_too_old": "{field}: that date is more than a year before the session ({session}): a typo?",
        "err_progress": "{field}: give a whole number from 0 to 100",
        "err_office_away": "{field}: this link is for the project office, not for a person",
        "err_delegate_list": "{field}: choose a person from the list", "err_delegate_self": "{field}: choose someone else",
        "err_action": "Unknown action. Nothing was changed.", "err_not_saved": "Not saved: {detail}",
    },
    "ru": {
        "app": "Проектный офис",
        "stage": "Этап", "owner": "Ответственный", "due": "Срок", "status": "Статус", "progress": "Прогресс",
        "forecast": "Прогноз", "late": "раб. дн. просрочки", "waiting_for": "Ждёт завершения",
        "dependents": "Задачи, которые ждут эту", "history": "История", "you_are": "Ссылка выдана",
        "office": "проектному офису", "saved": "Сохранено.", "moved": "Сдвинуты сроки зависимых задач: {n}. Ответственные узнают об этом в следующем напоминании.",
        "done_title": "Отметить выполненной", "done_on": "Дата выполнения", "note": "Комментарий (необязательно)",
        "done_button": "Выполнено",
        "progress_title": "Прогресс", "progress_label": "Прогресс, %", "progress_button": "Сохранить прогресс",
        "forecast_title": "Новый срок", "forecast_label": "Новая дата завершения", "reason": "Причина",
        "forecast_button": "Сохранить новый срок",
        "blocked_title": "Заблокирована", "blocked_button": "Отметить блокировку",
        "away_title": "Отъезд: передать напоминания замещающему", "away_until": "В отъезде до",
        "delegate": "Замещающий", "away_button": "Передать", "back_button": "Я вернулся",
        "away_now": "Вы в отъезде до {until}; ваши напоминания получает {name}.",
        "st_planned": "запланирована", "st_in_progress": "в работе", "st_done": "выполнена",
        "st_blocked": "заблокирована", "st_cancelled": "отменена",
        "as_of": "на", "stages": "Этапы", "gantt": "График", "overdue": "Просрочено",
        "upcoming": "Срок в ближайшие две недели", "risks": "Риски по оценке", "report": "Последний еженедельный отчёт",
        "no_report": "Отчётов пока нет.", "tasks": "задач", "done": "выполнено", "amber": "под угрозой",
        "blocked": "заблокировано", "none": "Нет.", "more": "и ещё {n}", "title": "Название", "score": "Оценка",
        "mitigation": "Меры", "end": "Конец", "forecast_end": "Прогноз конца", "rag": "Статус",
        "escalation": "Эскалация", "today": "сегодня", "gantt_more": "Ещё {n} задач критического пути не показаны.",
        "closed_task": "Задача {status}.",
        "field": "Поле", "old": "Было", "new": "Стало", "by": "Кто", "when": "Когда",
        "rag_green": "зелёный", "rag_amber": "жёлтый", "rag_red": "красный", "rag_grey": "серый",
        "risk_open": "открыт", "risk_mitigated": "снижен", "risk_occurred": "наступил", "risk_closed": "закрыт",
        "f_added": "добавлено", "f_archived": "в архиве", "f_restored": "восстановлено", "f_note": "комментарий",
        "f_status": "статус", "f_progress": "прогресс", "f_done_on": "дата выполнения", "f_forecast": "прогноз",
        "f_due": "срок", "f_start": "начало", "f_finish": "окончание", "f_title": "название", "f_stage": "этап",
        "f_workstream": "направление", "f_owner": "ответственный", "f_partners": "партнёры",
        "f_depends_on": "зависит от", "f_start_expr": "начало (в файле)", "f_due_expr": "срок (в файле)",
        "f_duration": "длительность, раб. дн.", "f_notes": "примечания", "f_away_until": "в отъезде до",
        "f_delegate": "замещающий", "f_name": "имя", "f_email": "эл. почта", "f_manager": "руководитель",
        "f_partner": "партнёр",
        "src_web": "веб-страница", "src_cli": "командная строка", "src_import": "импорт файла",
        "src_schedule": "пересчёт графика",
        "yes": "да", "no": "нет",
        "t_link": "Ссылка не работает", "t_not_found": "Не найдено", "t_too_long": "Слишком длинный текст",
        "t_csrf": "Форма устарела", "t_sign_in": "Нужен вход", "t_no_report": "Отчёта пока нет",
        "tok_incomplete": "Ссылка неполная: возможно, её обрезали при копировании из письма.",
        "tok_damaged_copy": "Ссылка повреждена: возможно, её обрезали при копировании из письма.",
        "tok_damaged": "Ссылка повреждена.",
        "tok_signature": "Ссылка недействительна: её изменили, или её выдал не этот сервер.",
        "tok_purpose": "Эта ссылка предназначена для другой страницы.",
        "tok_expired": "Срок действия ссылки истёк {expires}. Новая ссылка придёт в следующем напоминании; "
                       "можно также обратиться в проектный офис.",
        "tok_roadmap": "Эта ссылка относится к другой дорожной карте.",
        "tok_task": "Эта ссылка относится к другой задаче: откройте ссылку рядом с этой задачей в письме.",
        "tok_invalid": "Ссылка недействительна.",
        "ref_no_roadmap": "Такой дорожной карты нет.", "ref_task_gone": "Этой задачи больше нет в дорожной карте.",
        "ref_not_responsible": "Ссылка выдана человеку, который больше не отвечает за эту задачу.",
        "ref_too_long": "Текст слишком длинный. Ничего не изменено.",
        "ref_csrf": "Форму не удалось проверить (она устарела или отправлена с другого сайта). "
                    "Откройте ссылку из письма ещё раз и повторите изменение. Ничего не изменено.",
        "ref_sign_in": "Эта страница для проектного офиса: войдите с паролем офиса или откройте ссылку для офиса.",
        "ref_no_report": "Еженедельный отчёт по этой дорожной карте ещё не готов.",
        "l_done_on": "Дата выполнения", "l_note": "Комментарий", "l_forecast": "Новый срок", "l_reason": "Причина",
        "l_away_until": "В отъезде до", "l_delegate": "Замещающий", "l_progress": "Прогресс", "l_away": "Отъезд",
        "err_date": "{field}: укажите дату (ГГГГ-ММ-ДД)", "err_why": "{field}: укажите причину",
        "err_too_long": "{field}: не больше {n} символов", "err_future": "{field}: эта дата ещё не наступила",
        "err_past": "{field}: эта дата уже прошла",
        "err_too_old": "{field}: дата больше чем на год раньше начала сессии ({session}); нет ли опечатки?",
        "err_progress": "{field}: укажите целое число от 0 до 100",
        "err_office_away": "{field}: эта ссылка выдана проектному офису, а не человеку",
        "err_delegate_list": "{field}: выберите человека из списка", "err_delegate_self": "{field}: выберите другого человека",
        "err_action": "Неизвестное действие. Ничего не изменено.", "err_not_saved": "Не сохранено: {detail}",
    },
}


def strings(lang: str) -> dict[str, str]:
    """The table of ``lang``; English for a language the web pages do not speak."""
    return STRINGS.get(lang, STRINGS["en"])


def text(lang: str, key: str, **params: Any) -> str:
    """The message ``key`` in ``lang`` with its values filled in: a ``field`` is a label key
    (``l_*``), a date is written out in the language (models.i18n.format_date)."""
    table = strings(lang)
    values = {}
    for name, value in params.items():
        if name == "field":
            value = table.get(f"l_{value}", value)
        elif isinstance(value, dt.date):
            value = format_date(value, lang)
        values[name] = value
    return table[key].format(**values)


def history_line(change: Any, lang: str, names: dict[str, str]) -> dict[str, str]:
    """One history row as the page shows it: the field's name, its old and new values and
    where the change came from, in ``lang``; ``names`` turns person keys into names.
    A field or value without a word here is shown as stored."""
    table = strings(lang)

    def value(raw: str | None) -> str:
        if raw is None:
            return ""
        if change.field == "status":
            return table.get(f"st_{raw}", raw)
        if change.field in ("owner", "delegate", "manager"):
            return names.get(raw, raw)
        if raw in ("True", "False"):
            return table["yes" if raw == "True" else "no"]
        return raw

    source = table.get(f"src_{change.source}", change.source)
    return {
        "when": change.at.strftime("%Y-%m-%d %H:%M"),
        "field": table.get(f"f_{change.field}", change.field),
        "old": value(change.old), "new": value(change.new),
        "by": f"{source}: {change.actor}" if change.actor else source,
        "note": change.note or "",
    }
