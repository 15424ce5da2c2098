"""The portfolio report as a DOCX file, rendered from a ``PortfolioReport`` only
(models/portfolio_report.py): the layout of its sections.

1. Landscape: the title and period, the counts by colour, the summary table (a row per active
   roadmap, the portfolio's row as `roadmap status` shows it; a failed row says why), then the
   heat map: the open risks of every roadmap counted by probability × impact.
2. Portrait: a page per roadmap, each on a new page: its figures (status, tasks done, late,
   expected finish against the plan, next milestone), its latest late tasks, the decisions
   needed and its worst open risks; no Gantt chart (200 charts would cost minutes).
3. The header (title and period) and the footer (page N of M) of the roadmap report
   (tasks/docx_pages.py), the package as the roadmap report's (tasks/docx_package.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from docx.document import Document as DocumentObject
from docx.enum.text import WD_BREAK

from models.i18n import translations
from models.portfolio_report import PortfolioReport, RoadmapPage
from models.report_rules import risk_zone
from models.report_words import format_day, format_period, plural, rag_word
from tasks.docx_package import open_base, save_docx, set_properties
from tasks.docx_pages import header_and_footer, start_page, text_width_twips
from tasks.docx_tables import RAG_FILLS, Cell, Row, add_heatmap, add_table

TITLE_CHARS = 90  # a task's or risk's title on a roadmap's page, cut at a word: the page stays one page
MITIGATION_CHARS = 120


def portfolio_filename(report: PortfolioReport) -> str:
    return f"portfolio-{report.week.label}.docx"


def render_portfolio(report: PortfolioReport, out_path: Path, *, reference_docx: Path | None = None) -> Path:
    """Write the portfolio report to ``out_path`` (atomically, fixed metadata) and return the path."""
    doc = open_base(reference_docx, report.language)
    _ = translations(report.language).gettext
    lang, week = report.language, report.week
    period = format_period(week.start, week.end, lang, word=True)

    start_page(doc, landscape=True, first=True)
    _heading(doc, _("Roadmap portfolio"), 0)
    _para(doc, _("Portfolio status report"), bold=True)
    _para(doc, _("Reporting period: week {week} of {year}, {period}").format(
        week=week.iso_week, year=week.iso_year, period=period))
    days = {row["as_of"] for row in report.rows}
    if len(days) == 1:
        _para(doc, _("Status as of {date}").format(date=format_day(_day(days.pop()), lang)))
    counts = report.counts()
    _para(doc, _("Roadmaps: {total}; red: {red}, amber: {amber}, green: {green}, failed: {error}. "
                 "Tasks late now: {late}.").format(total=len(report.rows), **counts), bold=True)
    _heading(doc, _("Summary"), 1)
    _summary_table(doc, report)
    _heading(doc, _("Heat map: open risks of every roadmap, probability × impact"), 1)
    add_heatmap(doc, report.heatmap, _("Probability ↓ / Impact →"), text_width_twips(doc.sections[-1]) // 3)

    start_page(doc, landscape=False)
    for n, page in enumerate(report.pages):
        if n:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _roadmap_page(doc, page, lang)

    header_and_footer(doc, f"{_('Roadmap portfolio')} — {period}", _("page {page} of {pages}"))
    set_properties(doc, title=f"{_('Roadmap portfolio')} — {week.label}", subject=_("Portfolio status report"),
                   identifier="portfolio", lang=lang, generated_at=report.generated_at)
    return save_docx(doc, Path(out_path), report.generated_at)


def _heading(doc: DocumentObject, text: str, level: int) -> None:
    """``doc.add_heading`` without its style lookup (2.9 ms a heading in python-docx: 800 of them
    for 200 roadmaps): the style's id is set on the paragraph directly."""
    paragraph = doc.add_paragraph()
    paragraph._p.get_or_add_pPr().style = doc.styles["Title" if level == 0 else f"Heading {level}"].style_id
    paragraph.add_run(text)


def _para(doc: DocumentObject, text: str, *, bold: bool = False, italic: bool = False) -> None:
    run = doc.add_paragraph().add_run(text)
    run.bold, run.italic = bold or None, italic or None


def _day(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


def _slip(slip: int | None) -> str:
    return "" if slip is None else f"{slip:+d}" if slip else "0"


def _rag(rag: str | None, lang: str) -> Cell:
    return Cell(rag_word(rag, lang), RAG_FILLS.get(rag)) if rag else Cell("", None)


def _milestone(row: dict[str, Any], lang: str) -> str:
    m = row.get("next_milestone")
    return f"{m['stage']} {m['title']} — {format_day(_day(m['end']), lang, False)}" if m else "—"


def _risk(row: dict[str, Any]) -> str:
    risk = row.get("worst_risk")
    return f"{risk['score']} {risk['key']} {risk['title']}" if risk else "—"


def _summary_table(doc: DocumentObject, report: PortfolioReport) -> None:
    lang = report.language
    _ = translations(lang).gettext
    header = [_("Roadmap"), _("Title"), _("Status"), _("Done"), _("Late"), _("Expected finish"), _("End (plan)"),
              _("Slip, business days"), _("Next milestone"), _("Worst risk")]
    rows: list[Row] = []
    for r in report.rows:
        if r.get("error"):
            rows.append([r["key"], r["title"], Cell(_("failed"), RAG_FILLS["red"], True), "", "", "", "", "",
                         r["error"], ""])
            continue
        rows.append([r["key"], r["title"], _rag(r["rag"], lang), f"{r['done']}/{r['tasks']}",
                     Cell(str(r["overdue"]), RAG_FILLS["red"] if r["overdue"] else None),
                     format_day(_day(r["expected"]), lang, False), format_day(_day(r["planned"]), lang, False),
                     _slip(r["slip"]), _milestone(r, lang), _risk(r)])
    add_table(doc, (1.6, 3.6, 1.3, 1.2, 0.9, 1.7, 1.7, 1.2, 3.6, 3.6), rows, header,
              text_width_twips(doc.sections[-1]))


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:—-") + "…"


def _roadmap_page(doc: DocumentObject, page: RoadmapPage, lang: str) -> None:
    """At most a page: the figures, the late tasks (the worst LATE_SHOWN), the decisions, the worst risks."""
    _ = translations(lang).gettext
    row = page.row
    _heading(doc, f"{row['key']} — {row['title']}", 1)
    width = text_width_twips(doc.sections[-1])
    if page.error:
        _para(doc, _("The status of this roadmap could not be computed: {error}").format(error=page.error), bold=True)
        return
    expected = _("{expected} (plan {planned}; slip {slip} business days)").format(
        expected=format_day(_day(row["expected"]), lang, False), planned=format_day(_day(row["planned"]), lang, False),
        slip=_slip(row["slip"]) or "—")
    facts: list[Row] = [
        [_("Overall status"), _rag(row["rag"], lang)],
        [_("Tasks done"), f"{row['done']} / {row['tasks']}"],
        [_("Overdue now"), plural(row["overdue"], "task", lang)],
        [_("Expected finish"), expected],
        [_("Next milestone"), _milestone(row, lang)],
    ]
    add_table(doc, (2, 5), facts, None, width)
    _heading(doc, _("Late tasks"), 2)
    if not page.late:
        _para(doc, _("No tasks are overdue."))
    else:
        rows: list[Row] = [
            [t.key, _clip(t.title, TITLE_CHARS), t.owner or _("unassigned"), format_day(t.due, lang, False),
             Cell(str(t.days_late), RAG_FILLS["red"]), "●" if t.critical else ""]
            for t in page.late
        ]
        add_table(doc, (1.2, 7, 3, 1.8, 1.3, 0.6), rows,
                  [_("Key"), _("Title"), _("Owner"), _("Due"), _("Late, business days"), _("CP")], width)
        if page.late_count > len(page.late):
            _para(doc, _("… and {n} more.").format(n=page.late_count - len(page.late)), italic=True)
    _heading(doc, _("Decisions needed"), 2)
    if not page.decisions:
        _para(doc, _("No decisions are needed this week."))
    for n, sentence in enumerate(page.decisions, 1):  # numbered by hand: a Word list would count on
        doc.add_paragraph(f"{n}. {sentence}")          # from the previous roadmap's page
    _heading(doc, _("Worst risks"), 2)
    if not page.risks:
        _para(doc, _("No open risks."))
        return
    risks: list[Row] = [
        [r.key, _clip(r.title, TITLE_CHARS), r.owner or _("unassigned"),
         Cell(f"{r.score} = {r.probability} × {r.impact}", RAG_FILLS[risk_zone(r.score)], True),
         _clip(r.mitigation, MITIGATION_CHARS)]
        for r in page.risks
    ]
    add_table(doc, (1.2, 5, 2.6, 1.8, 5.5), risks, [_("Key"), _("Title"), _("Owner"), _("Score"), _("Mitigation")],
              width)
