"""Gantt chart PNGs for the weekly report, drawn from ``GanttBar`` rows with matplotlib (Agg).

Why these choices:
- drawn at the size it is printed: the text width of an A4 landscape page (267 mm) and at
  most ``PAGE_IN`` high, so the report inserts it unscaled and 7 pt in the chart is 7 pt on
  paper (legible at 100 %);
- a wide label column with the full task title wrapped onto up to ``MAX_LINES`` lines (a
  title that needs more is cut only after those lines: ~190 characters);
- three bars per row: the plan (current start..due, coloured by RAG, outlined when on the
  critical path), the expected finish of the forward pass (start..expected, the part after
  the due date in dark red) and the baseline (grey, thin), plus a dashed "today" line;
- stages each followed by their open tasks (``models/gantt_rows.py``: late, then critical,
  first), as many per stage as let the chart fit one page (down to ``MIN_PER_STAGE``), the
  rest in an "… and N more" row; only a roadmap whose stages do not fit that way spans more
  pages (at most ``MAX_PAGES``, the caption counts what was left out);
- the object API (``Figure`` + ``FigureCanvasAgg``) instead of pyplot: no global figure state,
  so a long-running worker neither leaks figures nor depends on the configured backend;
- DejaVu Sans ships with matplotlib and covers Cyrillic; any character it still lacks
  (an emoji in a task title) is replaced before drawing, so matplotlib never warns about a
  missing glyph and never draws an empty box;
- ``metadata={'Software': None}`` and a fixed size/dpi make the PNG bytes identical for the
  same input, so a regenerated report is byte-comparable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from babel.dates import format_date
from matplotlib import dates as mdates
from matplotlib import font_manager, ticker
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from models.gantt_rows import PER_STAGE, stage_groups
from models.i18n import babel_locale, rag_colour, translations
from models.report_data import GanttBar
from models.report_words import chart_caption

FONT_FAMILY = "DejaVu Sans"
RAG_COLOURS = {"green": "#63BE7B", "amber": "#FFC000", "red": "#F8696B"}
EXPECTED_COLOUR = "#2F5597"
LATE_COLOUR = "#9C0006"
BASELINE_COLOUR = "#9E9E9E"
TODAY_COLOUR = "#C00000"
STAGE_FILL = "#EFEFEF"
DPI = 150
# A4 landscape with the report's 15 mm margins: 267 x 180 mm of text; the heading above the
# chart takes ~1 cm, the rest is the chart (tasks/report_docx.py scales down anything larger).
PAGE_IN = (10.5, 6.3)
FONT_PT = 7.5  # labels; ticks, legend and caption 7 pt
SMALL_PT = 7.0
LABEL_IN = 4.8  # the label column
INDENT_IN = 0.15  # tasks under their stage
CHAR_EM = 0.6  # DejaVu Sans' mean advance per em (Cyrillic included): how many fit a line
BOLD_WIDER = 1.12  # its bold face
MAX_LINES = 3
LINE_IN = FONT_PT * 1.15 / 72
ROW_PAD_IN = 0.05
MIN_ROW_IN = 0.19  # three bars: plan, expected, baseline
MORE_ROW_IN = 0.15  # "… and N more": one line, no bars
BARS_IN = (0.075, 0.05, 0.035)  # their heights, stacked with GAP_IN between
GAP_IN = 0.008
TOP_IN = 0.5  # legend and the upper date axis
BOTTOM_IN = 0.45  # lower date axis and caption
RIGHT_IN = 0.25
MIN_PER_STAGE = 2
MAX_PAGES = 2
_LOCK = threading.Lock()


@dataclass(slots=True)
class Row:
    """One row of the chart: a stage, a task, or "… and N more" (``bar`` None)."""

    kind: str  # 'stage' | 'task' | 'more'
    lines: list[str]
    bar: GanttBar | None = None
    more: int = 0

    @property
    def height(self) -> float:
        """In inches: the label's lines or the three bars, whichever needs more."""
        if self.kind == "more":
            return MORE_ROW_IN
        return max(MIN_ROW_IN, len(self.lines) * LINE_IN + ROW_PAD_IN)


@dataclass(slots=True)
class Layout:
    pages: list[list[Row]] = field(default_factory=list)
    per_stage: int = PER_STAGE  # tasks shown per stage at most
    hidden_stages: int = 0  # stages (with their tasks) beyond MAX_PAGES
    hidden_tasks: int = 0


def wrap_label(label: str, *, indent: bool = False, bold: bool = False) -> list[str]:
    """The label on lines that fit the label column; cut with "…" only past MAX_LINES."""
    em = CHAR_EM * (BOLD_WIDER if bold else 1)
    width = int((LABEL_IN - (INDENT_IN if indent else 0) - 0.15) * 72 / (FONT_PT * em))
    text = re.sub(r"[ \t\r\n]+", " ", label).strip().replace("№ ", "№\u00a0")  # "№ 7" stays on one line
    lines = textwrap.wrap(text, width, break_long_words=True) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def chart_rows(bars: Sequence[GanttBar], per_stage: int, lang: str) -> list[Row]:
    """The rows for at most ``per_stage`` tasks per stage, labels wrapped."""
    _ = translations(lang).gettext
    rows: list[Row] = []
    for group in stage_groups(bars, per_stage):
        if group.stage is not None:
            rows.append(Row("stage", wrap_label(group.stage.label, bold=True), group.stage))
        rows += [Row("task", wrap_label(b.label, indent=True), b) for b in group.tasks]
        if group.more:
            rows.append(Row("more", [_("… and {n} more.").format(n=group.more)], more=group.more))
    return rows


def page_capacity() -> float:
    return PAGE_IN[1] - TOP_IN - BOTTOM_IN


def layout(bars: Sequence[GanttBar], lang: str = "ru") -> Layout:
    """Pages of rows: the most tasks per stage (PER_STAGE down to MIN_PER_STAGE) that fit
    one page; else MIN_PER_STAGE on as many pages as needed, at most MAX_PAGES, a stage
    never split from its first task."""
    capacity = page_capacity()
    for n in range(PER_STAGE, MIN_PER_STAGE - 1, -1):
        rows = chart_rows(bars, n, lang)
        if sum(r.height for r in rows) <= capacity:
            return Layout([rows], per_stage=n)
    out = Layout(per_stage=MIN_PER_STAGE)
    page: list[Row] = []
    used = 0.0
    rows = chart_rows(bars, MIN_PER_STAGE, lang)
    for i, row in enumerate(rows):
        need = row.height + (rows[i + 1].height if row.kind == "stage" and i + 1 < len(rows) else 0)
        if page and used + need > capacity:
            out.pages.append(page)
            page, used = [], 0.0
        page.append(row)
        used += row.height
    if page:
        out.pages.append(page)
    for dropped in out.pages[MAX_PAGES:]:
        out.hidden_stages += sum(1 for r in dropped if r.kind == "stage")
        out.hidden_tasks += sum(1 for r in dropped if r.kind == "task") + sum(r.more for r in dropped)
    del out.pages[MAX_PAGES:]
    return out


def render_gantt(bars: Sequence[GanttBar], as_of: dt.date, path: Path, *, lang: str = "ru") -> list[Path]:
    """Draw the chart and return its pages: ``path``, then ``<stem>-2.png`` when it needs two.

    1. Lay the rows out on pages (``layout``).
    2. Per page: a figure of the page's height; one date axis for every page (so the pages
       compare), the rows top to bottom with their three bars, the today line, the legend
       on top and the caption below.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = layout(bars, lang)
    days = [as_of]
    for row in (r for page in plan.pages for r in page if r.bar is not None):
        b = row.bar
        assert b is not None
        days += [b.start, b.end] + [d for d in (b.expected, b.baseline_start, b.baseline_end) if d]
    out = []
    for number, rows in enumerate(plan.pages or [[]], start=1):
        target = path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
        # rc_context changes matplotlib's global settings: the lock keeps two reports rendered
        # in threads (Prefect's default task runner) from drawing with each other's settings.
        with _LOCK, chart_settings():
            _draw_page(rows, days, as_of, target, lang, _caption(plan, number, lang))
        out.append(target)
    return out


def chart_settings() -> contextlib.AbstractContextManager[None]:
    """matplotlib's settings while a chart is drawn (and while its text is measured in tests).

    Glyphs unhinted: hinting snaps outlines to the pixel grid for small text on screens, while
    this chart is printed at 150 dpi or scaled by Word. FreeType's autohinter was 15 % of a
    250-task chart's CPU (its two pages 0.27 -> 0.23 s); the picture looks the same."""
    return matplotlib.rc_context({"font.family": FONT_FAMILY, "font.size": SMALL_PT, "text.hinting": "none"})


def _caption(plan: Layout, number: int, lang: str) -> str:
    _ = translations(lang).gettext
    caption = chart_caption(lang)
    if len(plan.pages) > 1:
        caption += " " + _("Page {page} of {pages}.").format(page=number, pages=len(plan.pages))
    if plan.hidden_stages and number == len(plan.pages):
        caption += " " + _("{stages} more stages with {tasks} tasks are not shown.").format(
            stages=plan.hidden_stages, tasks=plan.hidden_tasks)
    return caption


def _draw_page(rows: list[Row], days: list[dt.date], as_of: dt.date, target: Path, lang: str, caption: str) -> None:
    rows_in = max(sum(r.height for r in rows), MIN_ROW_IN * 3)
    width, height = PAGE_IN[0], TOP_IN + rows_in + BOTTOM_IN
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((LABEL_IN / width, BOTTOM_IN / height, 1 - (LABEL_IN + RIGHT_IN) / width, rows_in / height))
    ax.set_ylim(rows_in, 0)  # y in inches from the top
    ax.set_yticks([])
    _draw_rows(fig, ax, rows)
    ax.axvline(mdates.date2num(as_of), color=TODAY_COLOUR, linestyle="--", linewidth=1.2, zorder=4)
    _date_axis(ax, days, lang)
    _legend(fig, lang)
    fig.text(0.1 / width, 0.04 / height, _printable(caption), ha="left", va="bottom", fontsize=SMALL_PT)
    fig.savefig(target, dpi=DPI, format="png", metadata={"Software": None})


def _draw_rows(fig: Figure, ax, rows: list[Row]) -> None:
    """Labels in the left column, bars by kind in one collection each (one artist, not a
    rectangle per bar as with ``barh``: a 250-task chart took 0.30 s instead of 0.33 s)."""
    label_at = blended_transform_factory(fig.transFigure, ax.transData)
    width = PAGE_IN[0]
    plan, expected, late, base = [], [], [], []  # (y, left, days) per bar
    outline = []
    top = 0.0
    for row in rows:
        y = top + row.height / 2
        if row.kind == "stage":
            ax.axhspan(top, top + row.height, color=STAGE_FILL, zorder=0, linewidth=0)
        x = (0.08 + (0 if row.kind == "stage" else INDENT_IN)) / width
        label = "\n".join(_printable(line) for line in row.lines)
        fig_text = ax.text(x, y, label, transform=label_at, ha="left", va="center", fontsize=FONT_PT, linespacing=1.1,
                           fontweight="bold" if row.kind == "stage" else "normal",
                           fontstyle="italic" if row.kind == "more" else "normal",
                           color="#595959" if row.kind == "more" else "black")
        fig_text.set_clip_on(False)
        b = row.bar
        if b is not None:
            y_plan = y - (BARS_IN[1] + BARS_IN[2]) / 2 - GAP_IN
            y_exp = y_plan + (BARS_IN[0] + BARS_IN[1]) / 2 + GAP_IN
            y_base = y_exp + (BARS_IN[1] + BARS_IN[2]) / 2 + GAP_IN
            plan.append((y_plan, b.start, b.end, RAG_COLOURS.get(b.rag, BASELINE_COLOUR)))
            outline.append("black" if b.critical else "none")
            if b.expected is not None and b.expected >= b.start:
                expected.append((y_exp, b.start, min(b.expected, b.end), EXPECTED_COLOUR))
                if b.late:
                    late.append((y_exp, max(b.start, b.end + dt.timedelta(days=1)), b.expected, LATE_COLOUR))
            if b.baseline_start and b.baseline_end:
                base.append((y_base, b.baseline_start, b.baseline_end, BASELINE_COLOUR))
        top += row.height
    for spans, height, edges in ((plan, BARS_IN[0], outline), (expected, BARS_IN[1], None),
                                 (late, BARS_IN[1], None), (base, BARS_IN[2], None)):
        if spans:
            ax.add_collection(PolyCollection([_bar(y, start, end, height) for y, start, end, _ in spans],
                                             facecolors=[s[3] for s in spans], edgecolors=edges or "none",
                                             linewidths=0.7, joinstyle="miter", zorder=2), autolim=False)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def _bar(y: float, start: dt.date, end: dt.date, height: float) -> list[tuple[float, float]]:
    """A bar's corners: from the start of ``start`` to the end of ``end`` (the end day included),
    centred on ``y``."""
    left, right = mdates.date2num(start), mdates.date2num(end) + 1
    top, bottom = y - height / 2, y + height / 2
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def _date_axis(ax, days: list[dt.date], lang: str) -> None:
    """Dates above and below the rows, month names in the report's language."""
    lo, hi = min(days), max(days)
    pad = max((hi - lo).days * 0.02, 2)
    ax.set_xlim(mdates.date2num(lo) - pad, mdates.date2num(hi) + pad + 1)
    pattern = "d MMM" if (hi - lo).days <= 120 else "LLL yyyy"
    locale = babel_locale(lang)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=5, maxticks=12))
    ax.xaxis.set_major_formatter(
        ticker.FuncFormatter(
            lambda x, _pos: format_date(mdates.num2date(x).date(), pattern, locale=locale)
        )
    )
    ax.tick_params(axis="x", labelsize=SMALL_PT, top=True, labeltop=True)


def _legend(fig: Figure, lang: str) -> None:
    """One row centred on the figure: the plan's three RAG colours as one entry."""
    _ = translations(lang).gettext
    rag = "/".join(rag_colour(r, lang) for r in ("green", "amber", "red"))
    plan = tuple(Patch(color=RAG_COLOURS[r]) for r in ("green", "amber", "red"))
    handles: list[Artist | tuple[Artist, ...]] = [
        plan,
        Patch(facecolor="white", edgecolor="black", linewidth=0.7),
        Patch(color=EXPECTED_COLOUR),
        Patch(color=LATE_COLOUR),
        Patch(color=BASELINE_COLOUR),
        Line2D([], [], color=TODAY_COLOUR, linestyle="--"),
    ]
    labels = [
        _("Plan: {colours}").format(colours=rag), _("Critical path"), _("Expected finish"),
        _("Expected after the due date"), _("Baseline"), _("Today"),
    ]
    fig.legend(handles=handles, labels=labels, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncols=len(labels),
               fontsize=SMALL_PT, frameon=False, borderaxespad=0.3, handlelength=2.4,
               handler_map={tuple: HandlerTuple(ndivide=None, pad=0)})


@functools.cache
def _charmap() -> frozenset[int]:
    font_path = font_manager.findfont(FONT_FAMILY, fallback_to_default=False)
    return frozenset(font_manager.get_font(font_path).get_charmap())


def _printable(text: str) -> str:
    """Replace characters DejaVu Sans cannot draw, so no glyph goes missing silently.

    ``$`` is escaped too: matplotlib would read "$5k to $10k" as mathtext.
    """
    cmap = _charmap()
    text = "".join(ch if ord(ch) in cmap else "?" for ch in text)
    return text.replace("$", r"\$")
