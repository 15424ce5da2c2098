"""The weekly status report as a DOCX file, rendered from a ``ReportContext`` only: the
layout of its sections. The package (base document, properties, saving) is
``tasks/docx_package.py``; the tables are ``tasks/docx_tables.py``; the A4 pages are
``tasks/docx_pages.py``.

Why it looks like this:
- The context is plain data (``models/report_context.py``); this module reads nothing else,
  so a saved snapshot renders the same text again.
- A4 for every section; the wide sections are landscape.
- Each section shows at most ``ctx.max_rows`` rows and a line "… and N more"; the full lists
  go to an appendix at the end, so the body stays readable for managers.
- An error names the section it happened in (``ReportRenderError``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel.numbers import format_decimal
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Emu
from docx.text.paragraph import Paragraph

from models.report_context import (
    STRINGS,
    ReportContext,
    RiskRow,
    TaskRow,
    babel_locale,
    format_day,
    plural,
    risk_zone,
)
from tasks.docx_package import missing_styles, open_base, save_docx, set_properties
from tasks.docx_pages import EMU_PER_TWIP, start_page, text_height_emu, text_width_twips
from tasks.docx_tables import HEADER_FILL, Cell, GroupRow, Row, add_table, first_rows

RAG_FILLS = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE"}

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
    chart_png: Path | None = None,
) -> Path:
    """Write the report for ``ctx`` to ``out_path`` and return the path.

    1. Open the base document (the reference, emptied, or python-docx's default styled plainly)
       and check it has every style used here.
    2. Portrait: title block, executive summary, stages, Gantt chart (drawn tall and narrow).
    3. Landscape: overdue and blocked tasks, next two weeks, risk register, then (on the
       same page when they fit: often a line or two each, a page of their own was mostly
       empty) changes since the previous report, reminders and escalations.
    4. Landscape appendix, on a new page, with every list that was cut at ``ctx.max_rows``.
    5. Save with fixed metadata and zip timestamps, atomically (write a temporary file, rename).
    """
    doc = open_base(reference_docx, ctx.language)
    writer = _Writer(doc, ctx)
    with _section("title"):
        writer.page(landscape=False, first=True)
        writer.title_block()
    with _section("summary"):
        writer.summary()
    with _section("stages"):
        writer.stages()
    if chart_png is not None:
        with _section("gantt"):
            writer.gantt(Path(chart_png))
    writer.page(landscape=True)
    with _section("overdue"):
        writer.overdue()
    with _section("upcoming"):
        writer.upcoming()
    with _section("risks"):
        writer.risks()
    with _section("changes"):
        writer.changes()
    with _section("messages"):
        writer.messages()
    if writer.appendix:
        with _section("appendix"):
            writer.page(landscape=True)
            writer.write_appendix()
    set_properties(
        doc, title=f"{ctx.title} — {ctx.iso_year}-W{ctx.iso_week:02d}", subject=STRINGS[ctx.language]["report_title"],
        identifier=ctx.roadmap_key, lang=ctx.language, generated_at=ctx.generated_at,
    )
    return save_docx(doc, Path(out_path), ctx.generated_at)


@contextlib.contextmanager
def _section(name: str) -> Iterator[None]:
    try:
        yield
    except ReportRenderError:
        raise
    except Exception as exc:  # say where it broke; the cause stays chained
        raise ReportRenderError(name, exc) from exc


@dataclass(slots=True)
class _AppendixEntry:
    title: str
    weights: Sequence[float]
    header: Sequence[str]
    rows: list[Row]


class _Writer:
    """Writes the sections in order; collects the lists that overflow ``max_rows``."""

    def __init__(self, doc: DocumentObject, ctx: ReportContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.lang = ctx.language
        self.s = STRINGS[ctx.language]
        self.appendix: list[_AppendixEntry] = []

    # -- layout ---------------------------------------------------------------------------

    def page(self, *, landscape: bool, first: bool = False) -> None:
        start_page(self.doc, landscape=landscape, first=first)

    def usable_twips(self) -> int:
        return text_width_twips(self.doc.sections[-1])

    def heading(self, key: str, level: int = 1) -> Paragraph:
        return self.doc.add_heading(self.s[key], level=level)

    def para(self, text: str, *, italic: bool = False, bold: bool = False) -> None:
        run = self.doc.add_paragraph().add_run(text)
        run.italic, run.bold = italic or None, bold or None

    def table(
        self,
        title_key: str,
        weights: Sequence[float],
        header: Sequence[str],
        rows: list[Row],
    ) -> None:
        """Table of at most ``max_rows`` data rows (``first_rows``); the whole list goes to
        the appendix."""
        limit = self.ctx.max_rows
        data_rows = sum(1 for r in rows if not isinstance(r, GroupRow))
        shown = first_rows(rows, limit)
        add_table(self.doc, weights, shown, header, self.usable_twips())
        if data_rows > limit:
            self.para(self.s["more"].format(n=data_rows - limit), italic=True)
            self.appendix.append(_AppendixEntry(self.s[title_key], weights, header, rows))

    def write_appendix(self) -> None:
        self.heading("h_appendix")
        for entry in self.appendix:
            self.doc.add_heading(entry.title, level=2)
            add_table(self.doc, entry.weights, entry.rows, entry.header, self.usable_twips())

    # -- formatting -----------------------------------------------------------------------

    def day(self, d: dt.date | None) -> str:
        return format_day(d, self.lang, False)

    def long_day(self, d: dt.date | None) -> str:
        return format_day(d, self.lang, True)

    def pct(self, value: float, decimals: bool = True) -> str:
        return _percent(value, decimals, self.lang)

    def rag(self, rag: str) -> Cell:
        return Cell(self.s.get(rag, rag), RAG_FILLS.get(rag))

    def status(self, task: TaskRow) -> str:
        text = self.s.get(f"st_{task.status}", task.status)
        if task.blocked_by:
            text += "; " + self.s["blocked_by"].format(keys=", ".join(task.blocked_by))
        return text

    def escalation(self, level: int) -> str:
        return self.s.get(f"esc_{level}", str(level))

    # -- sections -------------------------------------------------------------------------

    def title_block(self) -> None:
        ctx, s = self.ctx, self.s
        self.doc.add_heading(ctx.title, level=0)  # level 0 = the "Title" style
        self.para(s["report_title"], bold=True)
        self.para(s["period"].format(
            week=ctx.iso_week, year=ctx.iso_year,
            start=self.long_day(ctx.week_start), end=self.long_day(ctx.week_end),
        ))
        self.para(s["as_of"].format(date=self.long_day(ctx.as_of)))
        moment = ctx.generated_at
        offset = moment.strftime("%z")  # "+0300"
        zone = "UTC" if offset in ("+0000", "") else f"UTC{offset[:3]}:{offset[3:]}"
        self.para(
            s["generated"].format(date=self.long_day(moment.date()),
                                  time=f"{moment:%H:%M} {zone}"),
            italic=True,
        )

    def summary(self) -> None:
        sm, s = self.ctx.summary, self.s
        self.heading("h_summary")
        done = s["done_pct_value"].format(
            count=self.pct(sm.percent_done_count), done=sm.tasks_done, total=sm.tasks_total,
            weighted=self.pct(sm.percent_done_weighted),
        )
        rows: list[Row] = [
            [s["overall"], self.rag(sm.rag)],
            [s["done_pct"], done],
            [s["done_week"], plural(sm.done_this_week, "task", self.lang)],
            [s["overdue_now"], plural(sm.overdue_now, "task", self.lang)],
            [s["stages_state"], f"{sm.stages_on_track} / {sm.stages_late}"],
        ]
        add_table(self.doc, (2, 5), rows, None, self.usable_twips())
        self.heading("h_decisions", level=2)
        if not sm.decisions:
            self.para(s["no_decisions"])
        for sentence in sm.decisions[:3]:
            self.doc.add_paragraph(sentence, style="List Number")

    def stages(self) -> None:
        s = self.s
        self.heading("h_stages")
        if not self.ctx.stages:
            self.para(s["none_stages"])
            return
        rows: list[Row] = []
        for st in self.ctx.stages:
            shift = ""
            if st.end and st.forecast_end:
                days = (st.forecast_end - st.end).days
                shift = f"{days:+d}" if days else "0"
            late = bool(st.end and st.forecast_end and st.forecast_end > st.end)
            rows.append([
                st.key, st.title, self.day(st.start), self.day(st.end),
                Cell(self.day(st.forecast_end), bold=late), shift,
                self.pct(st.progress, False), self.rag(st.rag),
            ])
        header = [s["c_key"], s["c_title"], s["c_start"], s["c_end"], s["c_forecast"],
                  s["c_shift"], s["c_progress"], s["c_rag"]]
        self.table("h_stages", (1.5, 3.3, 2.1, 2.1, 2.1, 1.2, 1.9, 1.6), header, rows)

    def gantt(self, chart_png: Path) -> None:
        # The chart starts a page: it rarely fits under the stages table, and LibreOffice
        # left the heading alone at the foot of page 1 despite keep-with-next.
        self.heading("h_gantt").paragraph_format.page_break_before = True
        max_height = int(text_height_emu(self.doc.sections[-1]) * 0.85)
        width = self.usable_twips() * EMU_PER_TWIP
        paragraph = self.doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        picture = paragraph.add_run().add_picture(str(chart_png), width=width)
        if picture.height > max_height:  # tall chart: fit the page height instead
            picture.width = Emu(int(picture.width * max_height / picture.height))
            picture.height = Emu(max_height)
        # the caption (with "and N more") is drawn in the PNG; the alt text repeats it
        picture._inline.docPr.set("descr", self.s["gantt_caption"])

    def overdue(self) -> None:
        s, lang = self.s, self.lang
        self.heading("h_overdue")
        tasks = _unique([*self.ctx.overdue, *self.ctx.blocked])
        if not tasks:
            self.para(s["none_overdue"])
            return
        by_owner: dict[str, list[TaskRow]] = {}
        for task in tasks:
            by_owner.setdefault(task.owner or s["nobody"], []).append(task)
        groups = sorted(
            by_owner.items(), key=lambda kv: (-max(t.days_late for t in kv[1]), kv[0])
        )
        rows: list[Row] = []
        for owner, owned in groups:
            rows.append(GroupRow(s["owner_group"].format(
                owner=owner, tasks=plural(len(owned), "task", lang))))
            for t in sorted(owned, key=lambda t: (-t.days_late, -t.escalation_level, t.key)):
                rows.append([
                    t.key, t.title, ", ".join(t.partners), self.day(t.due),
                    Cell(str(t.days_late), RAG_FILLS["red"] if t.days_late else None),
                    self.escalation(t.escalation_level), self.status(t),
                    "●" if t.critical else "",
                ])
        header = [s["c_key"], s["c_title"], s["c_partners"], s["c_due"], s["c_late"],
                  s["c_esc"], s["c_state"], s["c_critical"]]
        self.table("h_overdue", (1.3, 5, 4.2, 1.7, 1.7, 2.3, 3, 0.8), header, rows)
        self._overdue_by_partner(tasks)

    def _overdue_by_partner(self, tasks: list[TaskRow]) -> None:
        s = self.s
        by_partner: dict[str, list[TaskRow]] = {}
        for task in tasks:
            if task.days_late > 0:
                for partner in task.partners:
                    by_partner.setdefault(partner, []).append(task)
        if not by_partner:
            return
        self.heading("h_overdue_partner", level=2)
        rows: list[Row] = []
        for partner, late in sorted(
            by_partner.items(),
            key=lambda kv: (-len(kv[1]), -max(t.days_late for t in kv[1]), kv[0]),
        ):
            keys = [t.key for t in sorted(late, key=lambda t: (-t.days_late, t.key))]
            listed = ", ".join(keys[:10]) + (" …" if len(keys) > 10 else "")
            rows.append([partner, str(len(late)), str(max(t.days_late for t in late)), listed])
        header = [s["c_partner"], s["c_count"], s["c_worst"], s["c_key"]]
        self.table("h_overdue_partner", (4, 1.2, 1.8, 8), header, rows)

    def upcoming(self) -> None:
        s = self.s
        self.heading("h_upcoming")
        if not self.ctx.upcoming:
            self.para(s["none_upcoming"])
            return
        rows: list[Row] = [
            [self.day(t.due), t.key, t.title, t.owner or s["nobody"], ", ".join(t.partners),
             t.stage, self.status(t), self.pct(t.progress, False), "●" if t.critical else ""]
            for t in sorted(self.ctx.upcoming, key=lambda t: (t.due or dt.date.max, t.key))
        ]
        header = [s["c_due"], s["c_key"], s["c_title"], s["c_owner"], s["c_partners"],
                  s["c_stage"], s["c_state"], s["c_progress"], s["c_critical"]]
        self.table("h_upcoming", (1.7, 1.2, 4.8, 2.8, 3.6, 1.3, 2.4, 1.9, 0.8), header, rows)

    def risks(self) -> None:
        s = self.s
        self.heading("h_risks")
        self.heading("h_heatmap", level=2)
        grid = self.ctx.heatmap
        rows: list[Row] = []
        for p in range(5, 0, -1):
            rows.append([Cell(str(p), HEADER_FILL, True)] + [
                Cell(str(grid[p - 1][i - 1]) if grid[p - 1][i - 1] else "",
                     RAG_FILLS[risk_zone(p * i)], bool(grid[p - 1][i - 1]))
                for i in range(1, 6)
            ])
        header = [s["prob_impact"], "1", "2", "3", "4", "5"]
        add_table(self.doc, (3, 1, 1, 1, 1, 1), rows, header, self.usable_twips() // 2)
        self.heading("h_open_risks", level=2)
        open_risks = sorted(
            (r for r in self.ctx.risks if r.is_open), key=lambda r: (-r.score, -r.impact, r.key)
        )
        if not open_risks:
            self.para(s["none_risks"])
            return
        rows = [self._risk_row(r) for r in open_risks]
        # probability, impact and score share one narrow column ("20 = 4 × 5"): three
        # columns of one digit each left the mitigation, the longest text, a sliver.
        header = [s["c_key"], s["c_title"], s["c_owner"], s["c_score_pi"], s["c_mitigation"],
                  s["c_review"], s["c_state"]]
        self.table("h_open_risks", (1.2, 4.4, 2.8, 2.2, 8, 1.8, 1.9), header, rows)

    def _risk_row(self, r: RiskRow) -> list[str | Cell]:
        return [
            r.key, r.title, r.owner or self.s["nobody"],
            Cell(f"{r.score} = {r.probability} × {r.impact}", RAG_FILLS[risk_zone(r.score)], True),
            r.mitigation, self.day(r.review_date), self.s.get(f"rs_{r.status}", r.status),
        ]

    def changes(self) -> None:
        s, ch = self.s, self.ctx.changes
        self.heading("h_changes")
        if ch is None:
            self.para(s["no_previous"])
            return
        if ch.is_empty():
            self.para(s["no_changes"])
            return
        self.para(s["changes_counts"].format(
            completed=len(ch.completed), newly_overdue=len(ch.newly_overdue),
            moved=len(ch.moved), new_risks=len(ch.new_risks), closed_risks=len(ch.closed_risks),
        ))
        rows: list[Row] = []
        for kind in ("completed", "newly_overdue"):
            rows += [[s[f"ch_{kind}"], c.key, c.title, ""] for c in getattr(ch, kind)]
        rows += [
            [s["ch_moved"], m.key, m.title,
             s["moved_detail"].format(old=self.day(m.old_due), new=self.day(m.new_due))]
            for m in ch.moved
        ]
        for kind in ("new_risks", "closed_risks"):
            rows += [[s[f"ch_{kind}"], c.key, c.title, ""] for c in getattr(ch, kind)]
        header = [s["c_change"], s["c_key"], s["c_title"], s["c_detail"]]
        self.table("h_changes", (2.6, 1.4, 6, 3), header, rows)

    def messages(self) -> None:
        s, msg = self.s, self.ctx.messages
        self.heading("h_messages")
        self.para(s["messages_counts"].format(
            reminders=msg.reminders_sent, escalations=msg.escalations_sent,
            notices=msg.notices_sent,
        ))
        if not msg.escalations:
            self.para(s["no_escalations"])
            return
        rows: list[Row] = [
            [f"{self.day(e.sent_at.date())} {e.sent_at:%H:%M}", e.recipient, e.subject]
            for e in sorted(msg.escalations, key=lambda e: (e.sent_at, e.recipient))
        ]
        header = [s["c_sent"], s["c_recipient"], s["c_subject"]]
        self.table("h_messages", (2.4, 4, 8), header, rows)


@functools.lru_cache(maxsize=4096)
def _percent(value: float, decimals: bool, lang: str) -> str:
    """"35,5 %" / "35.5%"; cached because every task row shows one."""
    number = format_decimal(value, "#,##0.#" if decimals else "#,##0", locale=babel_locale(lang))
    return f"{number}\u00a0%" if lang == "ru" else f"{number}%"


def _unique(tasks: Sequence[TaskRow]) -> list[TaskRow]:
    seen: set[str] = set()
    out = []
    for task in tasks:
        if task.key not in seen:
            seen.add(task.key)
            out.append(task)
    return out
