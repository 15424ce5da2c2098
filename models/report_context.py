"""The serialisable context of one weekly status report, and the pure helpers that fill it.

Why a separate context: the report is rendered from plain data only (Ghostwriter's rule:
build the context, then render). Whoever reads the database fills these dataclasses; the
renderers in ``tasks/gantt.py`` and ``tasks/report_docx.py`` never touch the database, so the
same context can be saved as a JSON snapshot (``to_dict``/``from_dict``), rendered again
later with identical text, and compared with next week's to list the changes.

Nothing here does I/O or imports python-docx or matplotlib. Babel is used only to format
dates and plurals, which are pure functions of the data and the language.

Conventions every builder must follow:
- dates are ``datetime.date``; ``generated_at`` is a timezone-aware ``datetime``;
- ``rag`` is one of ``'green' | 'amber' | 'red'``;
- ``days_late`` counts business days (the builder owns the calendar);
- ``heatmap[p - 1][i - 1]`` is the number of open risks with probability ``p`` and impact ``i``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

from babel import Locale
from babel.dates import format_date

Rag = Literal["green", "amber", "red"]
Lang = Literal["ru", "en"]

RAGS: tuple[str, ...] = ("green", "amber", "red")
LANGS: tuple[str, ...] = ("ru", "en")
CLOSED_RISK_STATUSES = frozenset({"closed"})
DONE_STATUSES = frozenset({"done", "cancelled"})


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class TaskRow:
    """One task as the report shows it; every derived figure is already computed."""

    key: str
    title: str
    stage: str = ""
    owner: str = ""
    partners: list[str] = field(default_factory=list)
    start: dt.date | None = None
    due: dt.date | None = None
    baseline_due: dt.date | None = None
    status: str = "todo"  # todo | in_progress | blocked | done | cancelled (others shown as-is)
    progress: int = 0  # 0-100
    days_late: int = 0  # business days past ``due`` as of the report date
    rag: str = "green"
    critical: bool = False
    slack: int = 0  # business days of total float
    escalation_level: int = 0  # 0 none, 1 owner's manager, 2 project office
    blocked_by: list[str] = field(default_factory=list)  # keys of blocking tasks


@dataclass(kw_only=True, slots=True)
class StageRow:
    key: str
    title: str
    start: dt.date | None = None
    end: dt.date | None = None  # planned end
    forecast_end: dt.date | None = None
    progress: int = 0  # 0-100
    rag: str = "green"


@dataclass(kw_only=True, slots=True)
class RiskRow:
    key: str
    title: str
    owner: str = ""
    probability: int = 1  # 1-5
    impact: int = 1  # 1-5
    score: int = 0  # probability * impact; filled in __post_init__ when left at 0
    mitigation: str = ""
    review_date: dt.date | None = None
    status: str = "open"  # open | mitigated | occurred | closed (models/spec.py)

    def __post_init__(self) -> None:
        for name in ("probability", "impact"):
            value = getattr(self, name)
            if not 1 <= value <= 5:
                raise ValueError(f"risk {self.key}: {name} must be 1-5, got {value}")
        if not self.score:
            self.score = self.probability * self.impact

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_RISK_STATUSES


@dataclass(kw_only=True, slots=True)
class GanttBar:
    label: str
    kind: str = "task"  # 'stage' | 'task'
    start: dt.date
    end: dt.date  # inclusive
    baseline_start: dt.date | None = None
    baseline_end: dt.date | None = None
    rag: str = "green"
    critical: bool = False


@dataclass(kw_only=True, slots=True)
class Summary:
    rag: str = "green"
    tasks_total: int = 0
    tasks_done: int = 0
    percent_done_count: float = 0.0  # 0-100, share of tasks done
    percent_done_weighted: float = 0.0  # 0-100, weighted by planned duration
    done_this_week: int = 0
    overdue_now: int = 0
    stages_on_track: int = 0
    stages_late: int = 0
    decisions: list[str] = field(default_factory=list)  # at most 3 sentences


@dataclass(kw_only=True, slots=True)
class ChangeItem:
    key: str
    title: str


@dataclass(kw_only=True, slots=True)
class MovedTask:
    key: str
    title: str
    old_due: dt.date | None = None
    new_due: dt.date | None = None


@dataclass(kw_only=True, slots=True)
class Changes:
    """What changed since the previous report's snapshot."""

    completed: list[ChangeItem] = field(default_factory=list)
    newly_overdue: list[ChangeItem] = field(default_factory=list)
    moved: list[MovedTask] = field(default_factory=list)
    new_risks: list[ChangeItem] = field(default_factory=list)
    closed_risks: list[ChangeItem] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.completed or self.newly_overdue or self.moved or self.new_risks
            or self.closed_risks
        )


@dataclass(kw_only=True, slots=True)
class EscalationSent:
    recipient: str
    subject: str
    sent_at: dt.datetime


@dataclass(kw_only=True, slots=True)
class MessagesSummary:
    reminders_sent: int = 0
    escalations_sent: int = 0
    notices_sent: int = 0
    escalations: list[EscalationSent] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class ReportContext:
    """Everything one weekly report shows. ``changes is None`` means: first report."""

    roadmap_key: str
    title: str
    language: str = "ru"
    iso_year: int
    iso_week: int
    week_start: dt.date
    week_end: dt.date
    as_of: dt.date
    generated_at: dt.datetime
    summary: Summary = field(default_factory=Summary)
    stages: list[StageRow] = field(default_factory=list)
    gantt: list[GanttBar] = field(default_factory=list)
    overdue: list[TaskRow] = field(default_factory=list)
    blocked: list[TaskRow] = field(default_factory=list)  # blocked but not (yet) overdue
    upcoming: list[TaskRow] = field(default_factory=list)  # due in the next two weeks
    risks: list[RiskRow] = field(default_factory=list)
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 5 for _ in range(5)])
    changes: Changes | None = None
    messages: MessagesSummary = field(default_factory=MessagesSummary)
    max_rows: int = 50

    def __post_init__(self) -> None:
        if self.language not in LANGS:
            raise ValueError(f"report language must be one of {LANGS}, got {self.language!r}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")
        if len(self.heatmap) != 5 or any(len(row) != 5 for row in self.heatmap):
            raise ValueError("heatmap must be 5x5: heatmap[probability-1][impact-1]")
        if self.generated_at.tzinfo is None:
            raise ValueError("generated_at must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (dates as ISO strings) for snapshots."""
        return _encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportContext:
        return _decode(cls, data)


# ---------------------------------------------------------------------------------------------
# Serialisation: one generic walk over the dataclass fields, driven by the type hints, so a
# field added later needs no extra code here.
# ---------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (dt.date, dt.datetime)):  # datetime is a date subclass
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        return [_decode(item_tp, v) for v in value]
    if origin is Literal:
        return value
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"{tp.__name__}: unknown keys in snapshot: {sorted(unknown)}")
        return tp(**{k: _decode(hints[k], v) for k, v in value.items()})
    return value


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def week_bounds(iso_year: int, iso_week: int) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week: the report period."""
    return dt.date.fromisocalendar(iso_year, iso_week, 1), dt.date.fromisocalendar(
        iso_year, iso_week, 7
    )


def risk_zone(score: int) -> str:
    """RAG zone of a probability x impact score on the 5x5 matrix (1-4, 5-12, 15-25)."""
    if score >= 15:
        return "red"
    if score >= 5:
        return "amber"
    return "green"


def heatmap_counts(risks: Iterable[RiskRow]) -> list[list[int]]:
    """Open risks counted by cell: ``result[probability - 1][impact - 1]``."""
    grid = [[0] * 5 for _ in range(5)]
    for risk in risks:
        if risk.is_open:
            grid[risk.probability - 1][risk.impact - 1] += 1
    return grid


def overall_rag(
    stages: Sequence[StageRow], overdue: Sequence[TaskRow], risks: Sequence[RiskRow] = ()
) -> str:
    """One colour for the whole roadmap.

    Red when a stage is red or a critical-path task is overdue (the end date moves);
    amber when a stage is amber, any task is overdue, or an open risk sits in the red zone
    (the end date is threatened); green otherwise.
    """
    if any(s.rag == "red" for s in stages) or any(t.critical for t in overdue):
        return "red"
    if (
        any(s.rag == "amber" for s in stages)
        or overdue
        or any(r.is_open and risk_zone(r.score) == "red" for r in risks)
    ):
        return "amber"
    return "green"


def decision_sentences(
    overdue_rows: Sequence[TaskRow], risks: Sequence[RiskRow], lang: str, limit: int = 3
) -> list[str]:
    """The (at most three) things the managers must decide this week, as sentences.

    Overdue tasks on the critical path (or already escalated to level 2) come first, worst
    lateness first, because each day there moves the end date; at most two of them, so that
    the highest red-zone risk still gets a line. Free places are then filled from whichever
    list has more.
    """
    tasks = sorted(
        (t for t in overdue_rows if t.critical or t.escalation_level >= 2),
        key=lambda t: (not t.critical, -t.days_late, -t.escalation_level, t.key),
    )
    hot_risks = sorted(
        (r for r in risks if r.is_open and risk_zone(r.score) == "red"),
        key=lambda r: (-r.score, -r.impact, r.key),
    )
    picked: list[TaskRow | RiskRow] = [*tasks[:2], *hot_risks[:1]]
    picked += [*tasks[2:], *hot_risks[1:]][: max(0, limit - len(picked))]
    return [
        _task_decision(x, lang) if isinstance(x, TaskRow) else _risk_decision(x, lang)
        for x in picked[:limit]
    ]


def _task_decision(t: TaskRow, lang: str) -> str:
    s = STRINGS[lang]
    return s["decision_task"].format(
        key=t.key,
        title=t.title,
        critical=s["decision_critical"] if t.critical else "",
        late=plural(t.days_late, "bday", lang),
        owner=t.owner or s["nobody"],
    )


def first_clause(text: str, limit: int = 140) -> str:
    """The first clause of a free text (up to the first ";" or full stop), at most ``limit``
    characters (cut at a word, "…" added), its first letter lowercased unless it starts an
    abbreviation: "Найти второго поставщика; …" -> "найти второго поставщика". A decision
    sentence quotes the mitigation; the full text is in the risk register."""
    text = " ".join(text.split())
    for stop in (";", ". "):
        text = text.split(stop, 1)[0]
    text = text.rstrip(" .")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,:—-") + "…"
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _risk_decision(r: RiskRow, lang: str) -> str:
    s = STRINGS[lang]
    mitigation = first_clause(r.mitigation)
    action = (
        s["approve_mitigation"].format(mitigation=mitigation) if mitigation
        else s["define_mitigation"]
    )
    return s["decision_risk"].format(
        key=r.key, title=r.title, score=r.score, p=r.probability, i=r.impact,
        owner=r.owner or s["nobody"], action=action,
    )


# ---------------------------------------------------------------------------------------------
# Language: every UI string of the report lives here, one dict per language.
# ---------------------------------------------------------------------------------------------

_BABEL_LOCALE = {"ru": "ru", "en": "en_GB"}  # en_GB gives "15 November 2014"
_SHORT_DATE = {"ru": "dd.MM.yyyy", "en": "d MMM yyyy"}

PLURALS: dict[str, dict[str, tuple[str, ...]]] = {
    # ru: one / few / many;  en: one / other
    "ru": {
        "task": ("задача", "задачи", "задач"),
        "bday": ("рабочий день", "рабочих дня", "рабочих дней"),
        "stage": ("этап", "этапа", "этапов"),
        "risk": ("риск", "риска", "рисков"),
        "row": ("строка", "строки", "строк"),
    },
    "en": {
        "task": ("task", "tasks"),
        "bday": ("business day", "business days"),
        "stage": ("stage", "stages"),
        "risk": ("risk", "risks"),
        "row": ("row", "rows"),
    },
}

STRINGS: dict[str, dict[str, str]] = {
    "ru": {
        "report_title": "Еженедельный отчёт о ходе дорожной карты",
        "period": "Отчётный период: {week}-я неделя {year} года, {start} — {end}",
        "as_of": "По состоянию на {date}",
        "generated": "Сформирован {date}, {time}",
        "h_summary": "Краткое резюме",
        "h_stages": "Этапы",
        "h_gantt": "Диаграмма Ганта",
        "h_overdue": "Просроченные и заблокированные задачи",
        "h_overdue_partner": "Просрочки по партнёрам",
        "h_upcoming": "Ближайшие две недели",
        "h_risks": "Реестр рисков",
        "h_heatmap": "Тепловая карта: вероятность × влияние",
        "h_open_risks": "Открытые риски",
        "h_changes": "Изменения с прошлого отчёта",
        "h_messages": "Напоминания и эскалации за неделю",
        "h_appendix": "Приложение. Полные списки",
        "h_decisions": "Требуются решения",
        "overall": "Общий статус",
        "done_pct": "Выполнено задач",
        "done_pct_value": "{count} по числу задач ({done} из {total}), "
        "{weighted} с учётом длительности",
        "done_week": "Завершено за неделю",
        "overdue_now": "Просрочено сейчас",
        "stages_state": "Этапы в графике / с отставанием",
        "no_decisions": "На этой неделе решений не требуется.",
        "green": "Зелёный", "amber": "Жёлтый", "red": "Красный",
        "c_key": "Код", "c_title": "Название", "c_start": "Начало", "c_end": "Окончание (план)",
        "c_forecast": "Прогноз", "c_shift": "Сдвиг, дн.", "c_progress": "Готовность",
        "c_rag": "Статус", "c_owner": "Ответственный", "c_partners": "Партнёры",
        "c_due": "Срок", "c_baseline": "Базовый срок", "c_late": "Просрочка, раб. дн.",
        "c_esc": "Эскалация", "c_state": "Состояние", "c_blocked_by": "Блокируют",
        "c_stage": "Этап", "c_partner": "Партнёр", "c_count": "Задач", "c_worst": "Макс. просрочка",
        "c_prob": "Вероятность", "c_impact": "Влияние", "c_score": "Оценка",
        "c_score_pi": "Оценка = вероятность × влияние",
        "c_mitigation": "Меры", "c_review": "Пересмотр", "c_change": "Изменение",
        "c_detail": "Подробности", "c_recipient": "Получатель", "c_subject": "Тема",
        "c_sent": "Отправлено", "c_critical": "КП",
        "prob_impact": "Вероятность ↓ / Влияние →",
        "esc_0": "—", "esc_1": "1 (руководитель)", "esc_2": "2 (проектный офис)",
        "st_todo": "не начата", "st_in_progress": "в работе", "st_blocked": "заблокирована",
        "st_done": "выполнена", "st_cancelled": "отменена",
        "rs_open": "открыт", "rs_mitigated": "снижен", "rs_occurred": "наступил",
        "rs_closed": "закрыт",
        "ch_completed": "Завершена", "ch_newly_overdue": "Впервые просрочена",
        "ch_moved": "Перенесён срок", "ch_new_risks": "Новый риск",
        "ch_closed_risks": "Риск закрыт",
        "moved_detail": "{old} → {new}",
        "no_previous": "Это первый отчёт по дорожной карте: предыдущего отчёта для сравнения нет.",
        "no_changes": "С прошлого отчёта изменений нет.",
        "changes_counts": "Завершено: {completed}; впервые просрочено: {newly_overdue}; "
        "перенесено сроков: {moved}; новых рисков: {new_risks}; закрыто рисков: {closed_risks}.",
        "messages_counts": "Напоминаний: {reminders}; эскалаций: {escalations}; "
        "уведомлений: {notices}.",
        "no_escalations": "Эскалаций за неделю не было.",
        "none_overdue": "Просроченных и заблокированных задач нет.",
        "none_upcoming": "В ближайшие две недели сроков нет.",
        "none_risks": "Открытых рисков нет.",
        "none_stages": "Этапы не заданы.",
        "more": "… и ещё {n} — полный список в приложении.",
        "gantt_more": "И ещё {n} не показаны",
        "gantt_caption": "Этапы и задачи критического пути; базовый план — тонкие полосы.",
        "gantt_today": "Сегодня",
        "gantt_baseline": "Базовый план",
        "owner_group": "{owner} — {tasks}",
        "nobody": "не назначен",
        "blocked_by": "блокируют: {keys}",
        "approve_mitigation": "утвердить меры — {mitigation}",
        "define_mitigation": "определить меры снижения риска",
        "decision_critical": " (критический путь)",
        "decision_task": "Задача {key} «{title}»{critical} просрочена на {late}, "
        "ответственный — {owner}: решить, переносить ли срок или усилить исполнение.",
        "decision_risk": "Риск {key} «{title}» оценён в {score} баллов "
        "(вероятность {p} × влияние {i}), владелец — {owner}: {action}.",
    },
    "en": {
        "report_title": "Weekly roadmap status report",
        "period": "Reporting period: week {week} of {year}, {start} – {end}",
        "as_of": "As of {date}",
        "generated": "Generated {date}, {time}",
        "h_summary": "Executive summary",
        "h_stages": "Stages",
        "h_gantt": "Gantt chart",
        "h_overdue": "Overdue and blocked tasks",
        "h_overdue_partner": "Overdue by partner",
        "h_upcoming": "Next two weeks",
        "h_risks": "Risk register",
        "h_heatmap": "Heat map: probability × impact",
        "h_open_risks": "Open risks",
        "h_changes": "Changes since the previous report",
        "h_messages": "Reminders and escalations this week",
        "h_appendix": "Appendix: full lists",
        "h_decisions": "Decisions needed",
        "overall": "Overall status",
        "done_pct": "Tasks done",
        "done_pct_value": "{count} by count ({done} of {total}), {weighted} weighted by duration",
        "done_week": "Done this week",
        "overdue_now": "Overdue now",
        "stages_state": "Stages on track / late",
        "no_decisions": "No decisions are needed this week.",
        "green": "Green", "amber": "Amber", "red": "Red",
        "c_key": "Key", "c_title": "Title", "c_start": "Start", "c_end": "End (plan)",
        "c_forecast": "Forecast", "c_shift": "Shift, days", "c_progress": "Progress",
        "c_rag": "Status", "c_owner": "Owner", "c_partners": "Partners",
        "c_due": "Due", "c_baseline": "Baseline due", "c_late": "Late, business days",
        "c_esc": "Escalation", "c_state": "State", "c_blocked_by": "Blocked by",
        "c_stage": "Stage", "c_partner": "Partner", "c_count": "Tasks", "c_worst": "Worst delay",
        "c_prob": "Probability", "c_impact": "Impact", "c_score": "Score",
        "c_score_pi": "Score = probability × impact",
        "c_mitigation": "Mitigation", "c_review": "Review", "c_change": "Change",
        "c_detail": "Detail", "c_recipient": "Recipient", "c_subject": "Subject",
        "c_sent": "Sent", "c_critical": "CP",
        "prob_impact": "Probability ↓ / Impact →",
        "esc_0": "—", "esc_1": "1 (manager)", "esc_2": "2 (project office)",
        "st_todo": "not started", "st_in_progress": "in progress", "st_blocked": "blocked",
        "st_done": "done", "st_cancelled": "cancelled",
        "rs_open": "open", "rs_mitigated": "mitigated", "rs_occurred": "occurred",
        "rs_closed": "closed",
        "ch_completed": "Completed", "ch_newly_overdue": "Newly overdue",
        "ch_moved": "Deadline moved", "ch_new_risks": "New risk",
        "ch_closed_risks": "Risk closed",
        "moved_detail": "{old} → {new}",
        "no_previous": "This is the first report for this roadmap: there is no previous report "
        "to compare with.",
        "no_changes": "Nothing changed since the previous report.",
        "changes_counts": "Completed: {completed}; newly overdue: {newly_overdue}; "
        "deadlines moved: {moved}; new risks: {new_risks}; risks closed: {closed_risks}.",
        "messages_counts": "Reminders: {reminders}; escalations: {escalations}; "
        "notices: {notices}.",
        "no_escalations": "No escalations were sent this week.",
        "none_overdue": "No tasks are overdue or blocked.",
        "none_upcoming": "Nothing is due in the next two weeks.",
        "none_risks": "No open risks.",
        "none_stages": "No stages defined.",
        "more": "… and {n} more — the full list is in the appendix.",
        "gantt_more": "And {n} more are not shown",
        "gantt_caption": "Stages and critical-path tasks; thin bars show the baseline.",
        "gantt_today": "Today",
        "gantt_baseline": "Baseline",
        "owner_group": "{owner} — {tasks}",
        "nobody": "unassigned",
        "blocked_by": "blocked by: {keys}",
        "approve_mitigation": "approve the mitigation — {mitigation}",
        "define_mitigation": "define a mitigation",
        "decision_critical": " (critical path)",
        "decision_task": "Task {key} “{title}”{critical} is {late} late, owner {owner}: "
        "decide whether to move the deadline or add resources.",
        "decision_risk": "Risk {key} “{title}” scores {score} (probability {p} × impact {i}), "
        "owner {owner}: {action}.",
    },
}


def plural(n: int, word: str, lang: str) -> str:
    """``n`` followed by the right plural form: 1 задача, 3 задачи, 5 задач / 1 task, 2 tasks."""
    forms = PLURALS[lang][word]
    category = Locale.parse(_BABEL_LOCALE[lang]).plural_form(n)
    if lang == "ru":
        index = {"one": 0, "few": 1}.get(category, 2)
    else:
        index = 0 if category == "one" else 1
    return f"{n} {forms[index]}"


@functools.lru_cache(maxsize=8192)
def format_day(day: dt.date | None, lang: str, long: bool = True) -> str:
    """"15 ноября 2014 г." / "15 November 2014" (long) or "15.11.2014" / "15 Nov 2014"."""
    if day is None:
        return "—"
    fmt = "long" if long else _SHORT_DATE[lang]
    # CLDR puts a narrow no-break space before "г."; not every Word font has that glyph,
    # the ordinary no-break space keeps "2014 г." together just as well.
    text = format_date(day, fmt, locale=_BABEL_LOCALE[lang]).replace("\u202f", "\u00a0")
    # a short date sits in a narrow table column: "16 Apr 2025" must not wrap after "Apr"
    return text if long else text.replace(" ", "\u00a0")


def babel_locale(lang: str) -> str:
    return _BABEL_LOCALE[lang]
