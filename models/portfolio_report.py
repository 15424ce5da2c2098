"""The data of the portfolio report (`roadmap report --portfolio`): one document for the head of
the office, nothing rendered here (tasks/portfolio_docx.py renders it, tasks/portfolio_jobs.py
writes and mails it).

What it reuses rather than recomputes:
- the summary table is the portfolio (models/portfolio.py), row for row, in its order; a row
  that failed there is shown as failed, and so is the row of a roadmap whose page could not
  be built (its ``error`` set);
- each roadmap's page comes from the weekly report's builder (models/report_builder.py,
  ``build_report``) on the row's day, cut to what fits a page: the late tasks (the worst
  ``LATE_SHOWN``, the rest counted), the decisions needed (``decision_sentences``, in the
  office's language) and the worst open risks (``RISKS_SHOWN``). No Gantt chart is drawn;
- the page's status colour is the row's (models/status.py, as `roadmap status`), so the
  table and the page never disagree;
- the heat map is the risks' probability × impact matrix of the weekly report
  (``heatmap_counts``: risks not closed) summed over the roadmaps.

The week: ``report_week(as_of)`` (models/report_rules.py), as the roadmap report's.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from models.errors import error_line
from models.portfolio import EMPTY_ROW, portfolio
from models.report_builder import build_report
from models.report_data import RiskRow, TaskRow
from models.report_rules import ReportWeek, decision_sentences, report_week
from models.roadmaps import active_roadmaps

log = logging.getLogger("roadmap")

LATE_SHOWN = 8  # late tasks on a roadmap's page, the latest first
RISKS_SHOWN = 3  # open risks on a roadmap's page, the highest scores first
WORST_SHOWN = 3  # roadmaps named in the mail as the worst
RAG_ORDER = {"red": 0, "amber": 1, "green": 2}


@dataclass(kw_only=True, slots=True)
class RoadmapPage:
    """One roadmap's page: its portfolio row, and what the weekly report says is most urgent."""

    row: dict[str, Any]  # the portfolio row (models/portfolio.py), error included
    late: list[TaskRow] = field(default_factory=list)  # the worst LATE_SHOWN
    late_count: int = 0
    decisions: list[str] = field(default_factory=list)
    risks: list[RiskRow] = field(default_factory=list)  # open, the worst RISKS_SHOWN

    @property
    def error(self) -> str | None:
        return self.row.get("error")


@dataclass(kw_only=True, slots=True)
class PortfolioReport:
    language: str
    week: ReportWeek
    generated_at: dt.datetime
    rows: list[dict[str, Any]]  # the portfolio's rows, in its order
    pages: list[RoadmapPage]
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 5 for _ in range(5)])

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row.get("error")]

    def counts(self) -> dict[str, int]:
        """Roadmaps by colour ("error" for a failed row), and the late tasks of them all."""
        out = {"red": 0, "amber": 0, "green": 0, "error": 0}
        for row in self.rows:
            out[row["rag"] if not row.get("error") else "error"] += 1
        out["late"] = sum(row["overdue"] or 0 for row in self.rows)
        return out

    def worst(self, limit: int = WORST_SHOWN) -> list[dict[str, Any]]:
        """The roadmaps the head of the office looks at first (``worst_first``), red and amber only."""
        return [row for row in worst_first(self.rows) if row["rag"] in ("red", "amber")][:limit]


def worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Red before amber before green, then the longest slip, then the most late tasks; failed rows last."""
    return sorted((r for r in rows if not r.get("error")),
                  key=lambda r: (RAG_ORDER.get(r["rag"], 3), -(r["slip"] or 0), -(r["overdue"] or 0), r["key"]))


def build_portfolio_report(session: Session, as_of: dt.date | None, *, week_of: dt.date, language: str,
                           generated_at: dt.datetime, max_rows: int) -> PortfolioReport:
    """The portfolio report: the rows of ``portfolio(session, as_of)`` (each roadmap on ``as_of``,
    or today in its timezone), a page per row, for the week ``report_week(week_of)``."""
    rows = portfolio(session, as_of)["roadmaps"]
    roadmaps = {r.key: r for r in active_roadmaps(session)}
    report = PortfolioReport(language=language, week=report_week(week_of), generated_at=generated_at, rows=[],
                             pages=[])
    for row in rows:
        page = RoadmapPage(row=row)
        if not row.get("error"):
            try:
                fill_page(page, session, roadmaps[row["key"]], dt.date.fromisoformat(row["as_of"]),
                          language=language, generated_at=generated_at, max_rows=max_rows, heatmap=report.heatmap)
            except Exception as exc:  # noqa: BLE001 - one roadmap's page must not stop the others
                log.debug("%s: its portfolio page failed", row["key"], exc_info=exc)
                page.row = {"key": row["key"], "title": row["title"], "as_of": row["as_of"], **EMPTY_ROW,
                            "error": error_line(exc)}
        report.rows.append(page.row)
        report.pages.append(page)
    return report


def fill_page(page: RoadmapPage, session: Session, roadmap: Any, day: dt.date, *, language: str,
              generated_at: dt.datetime, max_rows: int, heatmap: list[list[int]]) -> None:
    """The page of ``roadmap`` from its weekly report's data as of ``day``; its risks added to ``heatmap``."""
    ctx, _ = build_report(session, roadmap, day, generated_at=generated_at, max_rows=max_rows)
    page.late = ctx.overdue[:LATE_SHOWN]  # the builder sorts them latest first
    page.late_count = len(ctx.overdue)
    page.decisions = decision_sentences(ctx.overdue, ctx.risks, language)
    page.risks = [r for r in ctx.risks if r.is_open][:RISKS_SHOWN]  # sorted by score
    for p, cells in enumerate(ctx.heatmap):
        for i, n in enumerate(cells):
            heatmap[p][i] += n
