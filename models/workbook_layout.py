"""The roadmap workbook's layout: its sheets, their columns and what each column holds.

One sheet per part of the roadmap file (docs/roadmap-format.md), in the roadmap's language
(docs/excel.md). The writer (tasks/workbook_write.py) and the reader (models/workbook_read.py)
both work from this table, so a column is named, typed and explained in one place. Headers
and sheet names are English message ids, translated through the Babel catalog; the reader
knows a column by its header in any language, or by its key.

Kinds of value: ``text`` (one line), ``note`` (several lines), ``key`` (a key of this or
another sheet, ``ref``), ``keys`` (several keys, separated by commas), ``texts`` (several
lines, one item a line), ``date`` (a real date), ``when`` (a date, or a date expression
kept as text: ``session + 30bd``), ``dates`` (several dates, separated by commas),
``number``, ``numbers``, ``duration`` (business days, or ``5bd`` as text), ``bool``,
``choice`` (one of ``choices``; statuses are shown as words of the roadmap's language).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from models.i18n import LANGUAGES, risk_status, task_status, translations
from models.spec import RISK_STATUSES, TASK_STATUSES, WEEKDAYS

W = "workbook"  # the catalog's context of the workbook's words: "Tasks" is «Задачи» here


def pgettext(context: str, message: str) -> str:
    """Marks a workbook word for ``pybabel extract`` (a keyword it knows, with a context);
    ``word`` translates it once the roadmap's language is known."""
    return message


@dataclass(frozen=True)
class Column:
    key: str  # the file's key: "owner"; on a fields sheet a dotted path: "session.date"
    header: str  # English message id
    kind: str
    width: int
    help: str  # English message id, for the instructions sheet
    ref: str | None = None  # the part whose keys a ``key`` column names (a dropdown)
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sheet:
    part: str  # the file's section: "tasks"
    title: str  # English message id
    columns: tuple[Column, ...]  # editable, read on import
    computed: tuple[Column, ...] = ()  # written on export, greyed and protected, ignored on import
    fields: bool = False  # a mapping (roadmap, policy): one row per key, label then value


_KEY = Column("key", pgettext("workbook", "Key"), "key", 16,
              pgettext("workbook", "Identifies the row; other sheets refer to it. Letters, digits, '_' and '-'."))

ROADMAP = Sheet("roadmap", pgettext("workbook", "Roadmap"), (
    Column("key", pgettext("workbook", "Key"), "key", 14,
           pgettext("workbook", "Identifies the roadmap; importing a workbook with the same key updates it.")),
    Column("title", pgettext("workbook", "Title"), "text", 14,
           pgettext("workbook", "Shown in mail, reports and status.")),
    Column("short_title", pgettext("workbook", "Short title"), "text", 14,
           pgettext("workbook", "The name in mail subjects, at most 40 characters.")),
    Column("session.date", pgettext("workbook", "Session date"), "date", 14,
           pgettext("workbook", "The day of the strategic session; the other dates lie within its window.")),
    Column("session.place", pgettext("workbook", "Session place"), "text", 14,
           pgettext("workbook", "Where the session took place.")),
    Column("timezone", pgettext("workbook", "Time zone"), "text", 14,
           pgettext("workbook", "An IANA zone name, e.g. Europe/Moscow.")),
    Column("calendar.country", pgettext("workbook", "Calendar country"), "text", 14,
           pgettext("workbook", "The production calendar: a country code such as RU.")),
    Column("calendar.region", pgettext("workbook", "Calendar region"), "text", 14,
           pgettext("workbook", "A region of that country, if it has its own holidays.")),
    Column("calendar.extra_days_off", pgettext("workbook", "Extra days off"), "dates", 14,
           pgettext("workbook", "Days off beyond the calendar, separated by commas.")),
    Column("calendar.extra_working_days", pgettext("workbook", "Extra working days"), "dates", 14,
           pgettext("workbook", "Working days beyond the calendar, separated by commas.")),
    Column("language", pgettext("workbook", "Language"), "choice", 14,
           pgettext("workbook", "ru or en: the language of mail, reports and this workbook."), choices=LANGUAGES),
    Column("office.name", pgettext("workbook", "Project office"), "text", 14,
           pgettext("workbook", "The project office's name.")),
    Column("office.email", pgettext("workbook", "Project office e-mail"), "text", 14,
           pgettext("workbook", "Escalations of level 2 and of risks go there.")),
    Column("report_to", pgettext("workbook", "Weekly report to"), "keys", 14,
           pgettext("workbook", "Person keys or e-mail addresses, separated by commas.")),
), fields=True)

PARTNERS = Sheet("partners", pgettext("workbook", "Partners"), (
    _KEY,
    Column("name", pgettext("workbook", "Name"), "text", 40, pgettext("workbook", "The organisation's name.")),
    Column("kind", pgettext("workbook", "Kind"), "text", 16,
           pgettext("workbook", "Free text, e.g. venue or government.")),
    Column("contact", pgettext("workbook", "Contact"), "key", 16,
           pgettext("workbook", "The partner's contact person (a key of the People sheet)."), ref="people"),
    Column("formats", pgettext("workbook", "Formats"), "texts", 50,
           pgettext("workbook", "Forms of cooperation, one a line.")),
))

PEOPLE = Sheet("people", pgettext("workbook", "People"), (
    _KEY,
    Column("name", pgettext("workbook", "Name"), "text", 30,
           pgettext("workbook", "The person's name, as shown in mail.")),
    Column("email", pgettext("workbook", "E-mail"), "text", 30,
           pgettext("workbook", "Their own address; nobody else's.")),
    Column("partner", pgettext("workbook", "Partner"), "key", 16,
           pgettext("workbook", "The organisation they belong to."), ref="partners"),
    Column("manager", pgettext("workbook", "Manager"), "key", 16,
           pgettext("workbook", "Receives level-1 escalations of their overdue tasks."), ref="people"),
    Column("language", pgettext("workbook", "Language"), "choice", 10,
           pgettext("workbook", "ru or en; empty: the roadmap's."), choices=LANGUAGES),
))

WORKSTREAMS = Sheet("workstreams", pgettext("workbook", "Workstreams"), (
    _KEY,
    Column("title", pgettext("workbook", "Title"), "text", 50, pgettext("workbook", "The workstream's name.")),
))

STAGES = Sheet("stages", pgettext("workbook", "Stages"), (
    _KEY,
    Column("title", pgettext("workbook", "Title"), "text", 40, pgettext("workbook", "The stage's name.")),
    Column("start", pgettext("workbook", "Start"), "when", 16,
           pgettext("workbook", "A date, or a date expression as text: session + 3bd, stage.KEY.end + 1bd.")),
    Column("end", pgettext("workbook", "End"), "when", 16,
           pgettext("workbook", "A date, or a date expression as text.")),
    Column("goal", pgettext("workbook", "Goal"), "note", 40, pgettext("workbook", "What the stage must achieve.")),
))

TASKS = Sheet("tasks", pgettext("workbook", "Tasks"), (
    _KEY,
    Column("title", pgettext("workbook", "Title"), "text", 40, pgettext("workbook", "What is to be done.")),
    Column("stage", pgettext("workbook", "Stage"), "key", 14,
           pgettext("workbook", "A key of the Stages sheet."), ref="stages"),
    Column("workstream", pgettext("workbook", "Workstream"), "key", 14,
           pgettext("workbook", "A key of the Workstreams sheet."), ref="workstreams"),
    Column("owner", pgettext("workbook", "Owner"), "key", 14,
           pgettext("workbook", "A key of the People sheet: who is reminded."), ref="people"),
    Column("partners", pgettext("workbook", "Partners"), "keys", 16,
           pgettext("workbook", "Partner keys, separated by commas.")),
    Column("start", pgettext("workbook", "Start"), "when", 14,
           pgettext("workbook", "Optional: a date, or a date expression as text.")),
    Column("due", pgettext("workbook", "Due"), "when", 16,
           pgettext("workbook", "A date or a date expression; give either a due date or a duration.")),
    Column("duration", pgettext("workbook", "Duration, business days"), "duration", 12,
           pgettext("workbook", "Business days from the start (after its dependencies).")),
    Column("depends_on", pgettext("workbook", "Depends on"), "keys", 16,
           pgettext("workbook", "Keys of tasks that must finish first, separated by commas.")),
    Column("status", pgettext("workbook", "Status"), "choice", 14,
           pgettext("workbook", "The task's status."), choices=TASK_STATUSES),
    Column("done_on", pgettext("workbook", "Done on"), "date", 12,
           pgettext("workbook", "The day a done task was finished.")),
    Column("progress", pgettext("workbook", "Progress, %"), "number", 10, pgettext("workbook", "0 to 100.")),
    Column("notes", pgettext("workbook", "Notes"), "note", 30, pgettext("workbook", "Anything else worth knowing.")),
), computed=(
    Column("expected", pgettext("workbook", "Expected finish"), "date", 14,
           pgettext("workbook", "Computed: when the task is now expected to finish.")),
    Column("slack", pgettext("workbook", "Slack, business days"), "number", 10,
           pgettext("workbook", "Computed: how many business days it can slip before the roadmap's end moves.")),
    Column("critical", pgettext("workbook", "Critical"), "bool", 10,
           pgettext("workbook", "Computed: on the critical path.")),
    Column("rag", pgettext("workbook", "RAG"), "text", 10,
           pgettext("workbook", "Computed: green, amber, red or grey.")),
    Column("days_late", pgettext("workbook", "Days late"), "number", 10,
           pgettext("workbook", "Computed: business days past the due date.")),
))

RISKS = Sheet("risks", pgettext("workbook", "Risks"), (
    _KEY,
    Column("title", pgettext("workbook", "Title"), "text", 40, pgettext("workbook", "The risk.")),
    Column("owner", pgettext("workbook", "Owner"), "key", 14,
           pgettext("workbook", "A key of the People sheet."), ref="people"),
    Column("partner", pgettext("workbook", "Partner"), "key", 14,
           pgettext("workbook", "A key of the Partners sheet."), ref="partners"),
    Column("probability", pgettext("workbook", "Probability"), "number", 10, pgettext("workbook", "1 to 5.")),
    Column("impact", pgettext("workbook", "Impact"), "number", 10, pgettext("workbook", "1 to 5.")),
    Column("mitigation", pgettext("workbook", "Mitigation"), "note", 40,
           pgettext("workbook", "How the risk is avoided or reduced.")),
    Column("review", pgettext("workbook", "Review"), "date", 12, pgettext("workbook", "The next review date.")),
    Column("status", pgettext("workbook", "Status"), "choice", 12,
           pgettext("workbook", "The risk's status."), choices=RISK_STATUSES),
    Column("tasks", pgettext("workbook", "Tasks"), "keys", 16,
           pgettext("workbook", "Keys of the tasks it threatens, separated by commas.")),
))

POLICY = Sheet("policy", pgettext("workbook", "Policy"), (
    Column("remind_before", pgettext("workbook", "Remind before, business days"), "numbers", 14,
           pgettext("workbook", "Reminders this many business days before a due date, separated by commas.")),
    Column("remind_on_due", pgettext("workbook", "Remind on the due day"), "bool", 14,
           pgettext("workbook", "TRUE or FALSE.")),
    Column("overdue_every", pgettext("workbook", "Overdue reminder every, business days"), "number", 14,
           pgettext("workbook", "How often an overdue task's owner is reminded.")),
    Column("escalate_after", pgettext("workbook", "Escalate after, business days late"), "numbers", 14,
           pgettext("workbook", "Two numbers: level 1 (the manager), level 2 (the project office).")),
    Column("risk_escalate_score", pgettext("workbook", "Risk escalation score"), "number", 14,
           pgettext("workbook", "A risk whose probability times impact reaches this is escalated.")),
    Column("checkin_every", pgettext("workbook", "Check-in every, business days"), "number", 14,
           pgettext("workbook", "How often the owner of a long task is asked how it goes.")),
    Column("checkin_grace", pgettext("workbook", "Check-in answer within, business days"), "number", 14,
           pgettext("workbook", "After that an unanswered check-in goes to the manager.")),
    Column("remind_on_start", pgettext("workbook", "Notice on the start day"), "bool", 14,
           pgettext("workbook", "TRUE or FALSE.")),
    Column("report_day", pgettext("workbook", "Weekly report day"), "choice", 14,
           pgettext("workbook", "monday to sunday."), choices=WEEKDAYS),
), fields=True)

SHEETS: tuple[Sheet, ...] = (ROADMAP, PARTNERS, PEOPLE, WORKSTREAMS, STAGES, TASKS, RISKS, POLICY)
INSTRUCTIONS = pgettext("workbook", "Instructions")
# A very hidden sheet of an exported workbook: its live fields as written (models/importer.exported_state).
EXPORTED_SHEET = "_exported"
FIELD, VALUE = pgettext("workbook", "Field"), pgettext("workbook", "Value")  # the headers of a fields sheet
INSTRUCTION_HEADERS = (
    pgettext("workbook", "Sheet"),
    pgettext("workbook", "Column"),
    pgettext("workbook", "What it holds"),
)
INSTRUCTION_NOTES = (
    pgettext(
        "workbook",
        "Fill in one sheet per part of the roadmap; each row of a list sheet is one item, its key in the first column.",
    ),
    pgettext(
        "workbook", "Dates are real dates; a date expression (session + 30bd, stage.KEY.end - 2w) is typed as text."
    ),
    pgettext("workbook", "Grey columns are computed when the workbook is exported and ignored when it is imported."),
    pgettext(
        "workbook", "Check the workbook with: roadmap validate FILE.xlsx; load it with: roadmap import FILE.xlsx."
    ),
    pgettext(
        "workbook", "Keep the sheets and their header rows; do not merge cells or type formulas into the white columns."
    ),
)


def word(message: str, lang: str) -> str:
    return translations(lang).pgettext("workbook", message)


def choice_word(column: Column, value: str, lang: str) -> str:
    """A status as the roadmap's language shows it ("в работе"); other choices as they are."""
    if column.choices is TASK_STATUSES:
        return task_status(value, lang)
    if column.choices is RISK_STATUSES:
        return risk_status(value, lang)
    return value


@lru_cache(maxsize=64)
def choice_values(column: Column) -> dict[str, str]:
    """What a cell may say for each choice, in any language, folded: word -> value."""
    out = {}
    for value in column.choices:
        out[value.casefold()] = value
        out[value.replace("_", " ").casefold()] = value
        for lang in LANGUAGES:
            out[choice_word(column, value, lang).casefold()] = value
    return out


@lru_cache(maxsize=64)
def names(sheet: Sheet, columns: bool = True) -> dict[str, str]:
    """Folded header (or, with columns=False, sheet title) in any language, or key -> key."""
    if not columns:
        return {form.casefold(): sheet.part for lang in LANGUAGES for form in (word(sheet.title, lang), sheet.part)}
    out = {}
    for c in sheet.columns + sheet.computed:
        for form in (c.key, *(word(c.header, lang) for lang in LANGUAGES)):
            out[form.strip().casefold()] = c.key
    return out
