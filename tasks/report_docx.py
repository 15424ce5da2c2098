"""The weekly status report as a DOCX file, rendered from a ``ReportContext`` only: the
layout of its sections. The package (base document, properties, saving) is
``tasks/docx_package.py``; the tables are ``tasks/docx_tables.py``; the A4 pages are
``tasks/docx_pages.py``.

Why it looks like this:
- The context is plain data (``models/report_data.py``); this module reads nothing else,
  so a saved snapshot renders the same text again.
- A4 for every section; the wide sections are landscape.
- Each section shows at most ``ctx.max_rows`` rows and a line "… and N more"; the full lists
  go to an appendix at the end, so the body stays readable for managers.
- An error names the section it happened in (``ReportRenderError``).
- The words are gettext calls (``_("Stages")``); the Russian is in the catalog.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path

from babel.numbers import format_decimal
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Emu
from docx.text.paragraph import Paragraph

from models.i18n import babel_locale, risk_status, translations
from models.report_data import ReportContext, TaskRow
from models.report_rules import risk_zone
from models.report_words import chart_caption, format_day, format_period, plural, rag_word, status_word
from tasks.docx_package import missing_styles, open_base, save_docx, set_properties
from tasks.docx_pages import EMU_PER_TWIP, header_and_footer, start_page, text_height_emu, text_width_twips
from tasks.docx_tables import RAG_FILLS, Cell, GroupRow, Row, add_heatmap, add_table, first_rows

WORST_SHOWN = 5  # tasks under "most serious escalations"; recipients shown: twice that
PARTNER_TASKS = 3  # open tasks listed per partner
RISKS_SHOWN = 6  # open risks in the body, the highest scores first

__all__ = ["ReportRenderError", "missing_styles", "render_report"]


class ReportRenderError(Exception):
    """Rendering failed; ``section`` says in which part of the report."""

    def __init__(self, section: str, cause: Exception) -> None:
        super().__init__(f"report section {section!r}: {type(cause).__name__}: {cause}")
        self.section = section


def render_report(
    ctx: ReportContext,
    out_path: Path,
    *,
    reference_docx: Path | None = None,
    chart_png: Path | Sequence[Path] | None = None,
) -> Path:
    """Write the report for ``ctx`` to ``out_path`` and return the path.

    1. Open the base document (the reference, emptied, or python-docx's default styled plainly)
       and check it has every style used here.
    2. Portrait: title block, executive summary, stages.
    3. Landscape: the Gantt chart's pages (``chart_png``: one PNG or a list, from
       ``tasks/gantt.py``), then on a new page overdue and blocked tasks, next two weeks, workstreams, partners (their
       interaction formats, open and late items), the highest-scoring risks, then (on the
       same page when they fit) changes since the previous report and the week's messages:
       reminders counted, escalations summed up by level and recipient with the worst ones.
    4. Landscape appendix, on a new page, with every task list that was cut at ``ctx.max_rows``.
    5. The header (roadmap title and period) and the footer (page N of M) of every section.
    6. Save with fixed metadata and zip timestamps, atomically (write a temporary file, rename).
    """
    doc = open_base(reference_docx, ctx.language)
    writer = _Writer(doc, ctx, chart_png)
    for name in ("title", "summary", "stages", "gantt", "overdue", "upcoming", "workstreams", "partners", "risks",
                 "changes", "messages", "appendix", "pages"):
        try:
            getattr(writer, name)()
        except Exception as exc:  # say where it broke; the cause stays chained
            raise ReportRenderError(name, exc) from exc
    set_properties(
        doc, title=f"{ctx.title} — {ctx.iso_year}-W{ctx.iso_week:02d}",
        subject=translations(ctx.language).gettext("Weekly roadmap status report"),
        identifier=ctx.roadmap_key, lang=ctx.language, generated_at=ctx.generated_at,
    )
    return save_docx(doc, Path(out_path), ctx.generated_at)


class _Writer:
    """Writes the sections in order (one method each); collects the lists that overflow
    ``max_rows`` for the appendix."""

    def __init__(self, doc: DocumentObject, ctx: ReportContext, chart_png: Path | Sequence[Path] | None) -> None:
        self.doc = doc
        self.ctx = ctx
        self.charts: list[Path] = [] if chart_png is None else [chart_png] if isinstance(chart_png, Path) else list(
            chart_png)
        self.lang = ctx.language
        self._ = translations(ctx.language).gettext
        self.heading_text = ""  # the latest heading: the title of a cut list in the appendix
        self.cut: list[tuple[str, Sequence[float], Sequence[str], list[Row]]] = []

    # -- layout ---------------------------------------------------------------------------

    def usable_twips(self) -> int:
        return text_width_twips(self.doc.sections[-1])

    def heading(self, text: str, level: int = 1) -> Paragraph:
        self.heading_text = text
        return self.doc.add_heading(text, level=level)

    def para(self, text: str, *, italic: bool = False, bold: bool = False) -> None:
        run = self.doc.add_paragraph().add_run(text)
        run.italic, run.bold = italic or None, bold or None

    def table(self, weights: Sequence[float], header: Sequence[str], rows: list[Row], *,
              limit: int | None = None, tasks: bool = True) -> None:
        """Table of at most ``limit`` (default ``max_rows``) data rows (``first_rows``). A
        cut list of tasks goes whole to the appendix under the latest heading; any other
        cut list (messages, risks) only says how many more there are."""
        limit = limit or self.ctx.max_rows
        data_rows = sum(1 for r in rows if not isinstance(r, GroupRow))
        add_table(self.doc, weights, first_rows(rows, limit), header, self.usable_twips())
        if data_rows > limit and tasks:
            self.para(self._("… and {n} more — the full list is in the appendix.").format(n=data_rows - limit),
                      italic=True)
            self.cut.append((self.heading_text, weights, header, rows))
        elif data_rows > limit:
            self.para(self._("… and {n} more.").format(n=data_rows - limit), italic=True)

    # -- formatting -----------------------------------------------------------------------

    def day(self, d: dt.date | None) -> str:
        return format_day(d, self.lang, False)

    def pct(self, value: float, decimals: bool = True) -> str:
        return _percent(value, decimals, self.lang)

    def rag(self, rag: str) -> Cell:
        return Cell(rag_word(rag, self.lang), RAG_FILLS.get(rag))

    def status(self, task: TaskRow) -> str:
        text = status_word(task.status, self.lang)
        if task.blocked_by:
            text += "; " + self._("blocked by: {keys}").format(keys=", ".join(task.blocked_by))
        return text

    # -- sections -------------------------------------------------------------------------

    def title(self) -> None:
        ctx, _ = self.ctx, self._
        start_page(self.doc, landscape=False, first=True)
        self.doc.add_heading(ctx.title, level=0)  # level 0 = the "Title" style
        self.para(_("Weekly roadmap status report"), bold=True)
        self.para(_("Reporting period: week {week} of {year}, {period}").format(
            week=ctx.iso_week, year=ctx.iso_year,
            period=format_period(ctx.week_start, ctx.week_end, self.lang, word=True),
        ))
        self.para(_("Status as of {date}").format(date=format_day(ctx.as_of, self.lang)))
        moment = ctx.generated_at
        offset = moment.strftime("%z")  # "+0300"
        zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
        self.para(
            _("Generated {date}, {time}").format(date=format_day(moment.date(), self.lang),
                                                  time=f"{moment:%H:%M} {zone}"),
            italic=True,
        )

    def summary(self) -> None:
        sm, _ = self.ctx.summary, self._
        self.heading(_("Executive summary"))
        done = _("{count} by count ({done} of {total}), {weighted} weighted by duration").format(
            count=self.pct(sm.percent_done_count), done=sm.tasks_done, total=sm.tasks_total,
            weighted=self.pct(sm.percent_done_weighted),
        )
        rows: list[Row] = [
            [_("Overall status"), self.rag(sm.rag)],
            [_("Tasks done"), done],
            [_("Done this week"), plural(sm.done_this_week, "task", self.lang)],
            [_("Overdue now"), plural(sm.overdue_now, "task", self.lang)],
            [_("Stages on track / late"), f"{sm.stages_on_track} / {sm.stages_late}"],
        ]
        add_table(self.doc, (2, 5), rows, None, self.usable_twips())
        self.heading(_("Decisions needed"), level=2)
        if not sm.decisions:
            self.para(_("No decisions are needed this week."))
        for sentence in sm.decisions[:3]:
            self.doc.add_paragraph(sentence, style="List Number")

    def stages(self) -> None:
        _ = self._
        self.heading(_("Stages"))
        if not self.ctx.stages:
            self.para(_("No stages defined."))
            return
        rows: list[Row] = []
        for st in self.ctx.stages:
            days = (st.forecast_end - st.end).days if st.end and st.forecast_end else None
            shift = "" if days is None else f"{days:+d}" if days else "0"
            rows.append([
                st.key, st.title, self.day(st.start), self.day(st.end),
                Cell(self.day(st.forecast_end), bold=bool(days and days > 0)), shift,  # bold: late
                self.pct(st.progress, False), self.rag(st.rag),
            ])
        header = [_("Key"), _("Title"), _("Start"), _("End (plan)"), _("Forecast"), _("Shift, days"), _("Progress"),
                  _("Status")]
        self.table((1.5, 3.3, 2.1, 2.1, 2.1, 1.2, 1.9, 1.6), header, rows)

    def gantt(self) -> None:
        """The chart's pages in a landscape section of their own, each picture at the text
        width (drawn at that size, so unscaled on A4) or shrunk to fit the page height."""
        if not self.charts:
            return
        start_page(self.doc, landscape=True)
        self.heading(self._("Gantt chart"))
        max_height = int(text_height_emu(self.doc.sections[-1]) * 0.9)  # the heading: the rest
        width = self.usable_twips() * EMU_PER_TWIP
        for chart in self.charts:
            paragraph = self.doc.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            picture = paragraph.add_run().add_picture(str(chart), width=width)
            if picture.height > max_height:  # taller than the page: fit the page height instead
                picture.width = Emu(int(picture.width * max_height / picture.height))
                picture.height = Emu(max_height)
            # the caption (with "and N more") is drawn in the PNG; the alt text repeats it
            picture._inline.docPr.set("descr", chart_caption(self.lang))

    def overdue(self) -> None:
        _ = self._
        start_page(self.doc, landscape=True)
        self.heading(_("Overdue and blocked tasks"))
        # a task both overdue and blocked is listed once, as overdue
        tasks = list({t.key: t for t in reversed([*self.ctx.overdue, *self.ctx.blocked])}.values())
        if not tasks:
            self.para(_("No tasks are overdue or blocked."))
            return
        by_owner: dict[str, list[TaskRow]] = {}
        for task in tasks:
            by_owner.setdefault(task.owner or _("unassigned"), []).append(task)
        escalation = {0: "—", 1: _("1 (manager)"), 2: _("2 (project office)")}
        rows: list[Row] = []
        for owner, owned in sorted(by_owner.items(), key=lambda kv: (-max(t.days_late for t in kv[1]), kv[0])):
            rows.append(GroupRow(f"{owner} — {plural(len(owned), 'task', self.lang)}"))
            for t in sorted(owned, key=lambda t: (-t.days_late, -t.escalation_level, t.key)):
                rows.append([
                    t.key, t.title, self.day(t.due),
                    Cell(str(t.days_late), RAG_FILLS["red"] if t.days_late else None),
                    escalation.get(t.escalation_level, str(t.escalation_level)), self.status(t),
                    "●" if t.critical else "",
                ])
        # no partners column: the partners section lists each partner's late tasks
        header = [_("Key"), _("Title"), _("Due"), _("Late, business days"), _("Escalation"), _("State"), _("CP")]
        self.table((1.3, 9, 1.7, 1.7, 2.3, 3.2, 0.8), header, rows)

    def upcoming(self) -> None:
        _ = self._
        self.heading(_("Next two weeks"))
        if not self.ctx.upcoming:
            self.para(_("Nothing is due in the next two weeks."))
            return
        rows: list[Row] = [
            [self.day(t.due), t.key, t.title, t.owner or _("unassigned"),
             t.stage, self.status(t), self.pct(t.progress, False), "●" if t.critical else ""]
            for t in sorted(self.ctx.upcoming, key=lambda t: (t.due or dt.date.max, t.key))
        ]
        header = [_("Due"), _("Key"), _("Title"), _("Owner"), _("Stage"), _("State"), _("Progress"), _("CP")]
        self.table((1.7, 1.2, 8, 2.8, 1.5, 2.4, 1.5, 0.8), header, rows)

    def risks(self) -> None:
        _ = self._
        self.heading(_("Risk register"))
        self.heading(_("Heat map: probability × impact"), level=2)
        add_heatmap(self.doc, self.ctx.heatmap, _("Probability ↓ / Impact →"), self.usable_twips() // 2)
        self.heading(_("Open risks"), level=2)
        open_risks = sorted((r for r in self.ctx.risks if r.is_open), key=lambda r: (-r.score, -r.impact, r.key))
        if not open_risks:
            self.para(_("No open risks."))
            return
        rows: list[Row] = [
            [r.key, r.title, r.owner or _("unassigned"),
             Cell(f"{r.score} = {r.probability} × {r.impact}", RAG_FILLS[risk_zone(r.score)], True),
             r.mitigation, self.day(r.review_date), risk_status(r.status, self.lang)]
            for r in open_risks
        ]
        # probability, impact and score share one narrow column ("20 = 4 × 5"): three
        # columns of one digit each left the mitigation, the longest text, a sliver.
        header = [_("Key"), _("Title"), _("Owner"), _("Score = probability × impact"), _("Mitigation"),
                  _("Review"), _("State")]
        # the worst RISKS_SHOWN in the body: the register itself is the roadmap file
        self.table((1.2, 4.4, 2.8, 2.2, 8, 1.8, 1.9), header, rows, limit=RISKS_SHOWN, tasks=False)

    def changes(self) -> None:
        _, ch = self._, self.ctx.changes
        self.heading(_("Changes since the previous report"))
        if ch is None:
            self.para(_("This is the first report for this roadmap: there is no previous report to compare with."))
            return
        if ch.is_empty():
            self.para(_("Nothing changed since the previous report."))
            return
        self.para(_("Completed: {completed}; newly overdue: {newly_overdue}; deadlines moved: {moved}; "
                    "new risks: {new_risks}; risks closed: {closed_risks}.").format(
            completed=len(ch.completed), newly_overdue=len(ch.newly_overdue),
            moved=len(ch.moved), new_risks=len(ch.new_risks), closed_risks=len(ch.closed_risks),
        ))
        tasks = ((_("Completed"), ch.completed), (_("Newly overdue"), ch.newly_overdue))
        risks = ((_("New risk"), ch.new_risks), (_("Risk closed"), ch.closed_risks))
        rows: list[Row] = [[label, c.key, c.title, ""] for label, items in tasks for c in items]
        rows += [[_("Deadline moved"), m.key, m.title, f"{self.day(m.old_due)} → {self.day(m.new_due)}"]
                 for m in ch.moved]
        rows += [[label, c.key, c.title, ""] for label, items in risks for c in items]
        self.table((2.6, 1.4, 6, 3), [_("Change"), _("Key"), _("Title"), _("Detail")], rows)

    def messages(self) -> None:
        _, msg = self._, self.ctx.messages
        self.heading(_("Reminders and escalations this week"))
        self.para(_("Reminders: {reminders}; escalations: {escalations}; notices: {notices}.").format(
            reminders=msg.reminders_sent, escalations=msg.escalations_sent, notices=msg.notices_sent,
        ))
        if not msg.escalations:
            self.para(_("No escalations were sent this week."))
        else:
            self._escalation_summary()
        self.failed_messages()

    def _escalation_summary(self) -> None:
        """Escalations as counts by level and by recipient, and the worst few tasks; never
        the list of subjects (70 lines a week on the example said less than these counts)."""
        _, sent = self._, self.ctx.messages.escalations
        levels = {2: _("2 (project office)"), 1: _("1 (manager)"), 0: _("risk")}
        by_level = {lv: sum(1 for e in sent if e.level == lv) for lv in levels}
        self.para("; ".join(f"{levels[lv]}: {n}" for lv, n in by_level.items() if n) + ".")
        by_recipient: dict[str, list[int]] = {}
        for e in sent:
            counts = by_recipient.setdefault(e.recipient, [0, 0, 0])
            counts[2 - e.level if e.level in (1, 2) else 2] += 1
        rows: list[Row] = [
            [who, str(c[0] or ""), str(c[1] or ""), str(c[2] or ""), str(sum(c))]
            for who, c in sorted(by_recipient.items(), key=lambda kv: (-kv[1][0], -sum(kv[1]), kv[0]))
        ]
        self.table((6, 2, 2, 2, 1.5), [_("Recipient"), levels[2], levels[1], levels[0], _("Total")], rows,
                   limit=WORST_SHOWN * 2, tasks=False)
        overdue = {t.key: t for t in self.ctx.overdue}
        worst: dict[str, int] = {}
        for e in sent:
            if e.key in overdue:
                worst[e.key] = max(worst.get(e.key, 0), e.level)
        if worst:
            self.heading(_("Most serious escalations"), level=2)
            keys = sorted(worst, key=lambda k: (-worst[k], -overdue[k].days_late, k))[:WORST_SHOWN]
            self.table((1.3, 7, 3, 1.7, 2.3), [_("Key"), _("Title"), _("Owner"), _("Late, business days"),
                                                _("Escalation")],
                       [[k, overdue[k].title, overdue[k].owner, str(overdue[k].days_late), levels[worst[k]]]
                        for k in keys], tasks=False)

    def workstreams(self) -> None:
        _ = self._
        if not self.ctx.workstreams:
            return
        self.heading(_("Workstreams"))
        rows: list[Row] = [
            [w.title, str(w.tasks), str(w.done), Cell(str(w.late), RAG_FILLS["red"] if w.late else None),
             self.day(w.expected_end)]
            for w in self.ctx.workstreams
        ]
        self.table((8, 1.5, 1.5, 1.5, 2.5), [_("Workstream"), _("Tasks"), _("Done"), _("Late"), _("Expected finish")],
                   rows, tasks=False)

    def partners(self) -> None:
        """Per partner: its interaction formats, then its open tasks, late first (a few, then
        "and N more"): what to bring to a meeting with it."""
        _ = self._
        if not self.ctx.partners:
            return
        self.heading(_("Partners"))
        rows: list[Row] = []
        for p in self.ctx.partners:
            shown = p.open[:PARTNER_TASKS]
            items = "\n".join(
                f"{t.key} {_clip(t.title)} — " + (_("late {n} bd").format(n=t.days_late) if t.days_late
                                           else _("due {date}").format(date=self.day(t.due)))
                for t in shown)
            if len(p.open) > len(shown):
                items += "\n" + _("… and {n} more.").format(n=len(p.open) - len(shown))
            rows.append([p.name, "; ".join(p.formats), str(len(p.open)),
                         Cell(str(p.late), RAG_FILLS["red"] if p.late else None), items])
        self.table((4, 4.5, 1.2, 1.2, 9), [_("Partner"), _("Interaction formats"), _("Open"), _("Late"),
                                            _("Open tasks, late first")], rows, tasks=False)

    def failed_messages(self) -> None:
        """Failed messages waiting (any week), until someone retries or dismisses them."""
        _, msg = self._, self.ctx.messages
        if not msg.failed_waiting:
            return
        self.heading(_("Messages that failed and are waiting"), level=2)
        self.para(_("Not delivered: {count}. Send them again with `roadmap outbox retry`, or dismiss them with "
                    "`roadmap outbox dismiss`.").format(count=msg.failed_waiting), bold=True)
        rows: list[Row] = [[str(f.id), self.day(f.as_of), f.recipient, f.subject, f.error] for f in msg.failed]
        self.table((1.2, 2.4, 4, 6, 6), [_("Id"), _("Day"), _("Recipient"), _("Subject"), _("Error")], rows)
        if msg.failed_waiting > len(msg.failed):
            self.para(_("The oldest {listed} are listed; `roadmap outbox --status failed` lists all.").format(
                listed=len(msg.failed)), italic=True)

    def pages(self) -> None:
        header_and_footer(
            self.doc,
            f"{self.ctx.title} — " + format_period(self.ctx.week_start, self.ctx.week_end, self.lang, word=True),
            self._("page {page} of {pages}"),
        )

    def appendix(self) -> None:
        if not self.cut:
            return
        start_page(self.doc, landscape=True)
        self.heading(self._("Appendix: full lists"))
        for title, weights, header, rows in self.cut:
            self.doc.add_heading(title, level=2)
            add_table(self.doc, weights, rows, header, self.usable_twips())


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@functools.lru_cache(maxsize=4096)
def _percent(value: float, decimals: bool, lang: str) -> str:
    """"35,5 %" / "35.5%"; cached because every task row shows one."""
    number = format_decimal(value, "#,##0.#" if decimals else "#,##0", locale=babel_locale(lang))
    return f"{number}\u00a0%" if lang == "ru" else f"{number}%"
