"""Gantt chart PNG for the weekly report, drawn from ``GanttBar`` rows with matplotlib (Agg).

Why these choices:
- the object API (``Figure`` + ``FigureCanvasAgg``) instead of pyplot: no global figure state,
  so a long-running worker neither leaks figures nor depends on the configured backend;
- DejaVu Sans ships with matplotlib and covers Cyrillic; any character it still lacks
  (an emoji in a task title) is replaced before drawing, so matplotlib never warns about a
  missing glyph and never draws an empty box;
- ``metadata={'Software': None}`` and a fixed size/dpi make the PNG bytes identical for the
  same input, so a regenerated report is byte-comparable;
- a roadmap of 10,000 tasks must not produce a giant image: only stages and at most
  ``max_tasks`` critical-path tasks are drawn (30 by default: with ~10 stages that is what
  fits one portrait page at a readable size), and the caption says how many were left out.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from babel.dates import format_date
from matplotlib import dates as mdates
from matplotlib import font_manager, ticker
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from models.i18n import babel_locale, translations
from models.report_data import GanttBar
from models.report_words import rag_word

FONT_FAMILY = "DejaVu Sans"
RAG_COLOURS = {"green": "#63BE7B", "amber": "#FFC000", "red": "#F8696B"}
BASELINE_COLOUR = "#9E9E9E"
TODAY_COLOUR = "#C00000"
# Sized for the text width of a portrait A4 page (17 cm): drawn at 19 cm, so the fonts stay
# ~6 pt after scaling, and 10 stages + 30 tasks still fit the page height.
DPI = 150
WIDTH_IN = 7.5
ROW_IN = 0.2  # height per bar
FONT_PT = 7
MAX_LABEL = 42
LEGEND_IN = 0.28  # band at the top of the figure for the legend (one row)
CAPTION_IN = 0.2  # band at the bottom for the caption
_LOCK = threading.Lock()


def select_bars(
    bars: Sequence[GanttBar], *, max_tasks: int = 30, max_stages: int = 20
) -> tuple[list[GanttBar], int]:
    """Bars to draw (input order kept) and how many bars were left out.

    Stages are always wanted (up to ``max_stages``); of the tasks only critical-path ones,
    the first ``max_tasks`` in the order the builder gave.
    """
    stages = [b for b in bars if b.kind == "stage"][:max_stages]
    tasks = [b for b in bars if b.kind != "stage" and b.critical][:max_tasks]
    wanted = {id(b) for b in (*stages, *tasks)}
    shown = [b for b in bars if id(b) in wanted]
    return shown, len(bars) - len(shown)


def render_gantt(
    bars: Sequence[GanttBar],
    as_of: dt.date,
    path: Path,
    *,
    lang: str = "ru",
) -> Path:
    """Draw the chart to ``path`` (PNG) and return it.

    1. Pick the stages and the first critical tasks (``select_bars``).
    2. One row per bar, top to bottom: the baseline as a thin grey bar under the current
       dates, the current dates coloured by RAG (critical tasks outlined in black).
    3. A vertical line at ``as_of``; a date axis with month names in the report's language.
    4. A caption saying how many bars were left out.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shown, hidden = select_bars(bars)
    _ = translations(lang).gettext
    height = 1.6 + ROW_IN * max(len(shown), 3)

    # rc_context changes matplotlib's global settings: the lock keeps two reports rendered
    # in threads (Prefect's default task runner) from drawing with each other's settings.
    with _LOCK, matplotlib.rc_context({"font.family": FONT_FAMILY, "font.size": FONT_PT}):
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        _draw_bars(ax, shown)
        ax.axvline(mdates.date2num(as_of), color=TODAY_COLOUR, linestyle="--", linewidth=1.2)
        _date_axis(ax, shown, as_of, lang)
        _legend(fig, lang)
        caption = _("Stages and critical-path tasks; thin bars show the baseline.")
        if hidden:
            caption += " " + _("And {n} more are not shown").format(n=hidden) + "."
        fig.text(0.01, 0.005, _printable(caption), ha="left", va="bottom", fontsize=FONT_PT)
        # The legend and the caption live in fixed bands (in inches) at the top and the
        # bottom of the figure; the axes and their labels get the rest.
        fig.tight_layout(rect=(0, CAPTION_IN / height, 1, 1 - LEGEND_IN / height))
        fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path


def _draw_bars(ax, shown: list[GanttBar]) -> None:
    ys = list(range(len(shown)))
    ax.set_yticks(ys, [_printable(_short(b.label)) for b in shown])
    for tick, bar in zip(ax.get_yticklabels(), shown, strict=True):
        if bar.kind == "stage":
            tick.set_fontweight("bold")
    base = [(y, b) for y, b in zip(ys, shown, strict=True) if b.baseline_start and b.baseline_end]
    if base:
        ax.barh(
            [y + 0.3 for y, _ in base],
            [mdates.date2num(b.baseline_end) - mdates.date2num(b.baseline_start) + 1 for _, b in base],
            left=[mdates.date2num(b.baseline_start) for _, b in base],
            height=0.16, color=BASELINE_COLOUR, zorder=1,
        )
    if shown:
        ax.barh(
            [y - 0.05 for y in ys],
            [mdates.date2num(b.end) - mdates.date2num(b.start) + 1 for b in shown],  # the end day included
            left=[mdates.date2num(b.start) for b in shown],
            height=[0.6 if b.kind == "stage" else 0.45 for b in shown],
            color=[RAG_COLOURS.get(b.rag, BASELINE_COLOUR) for b in shown],
            edgecolor=["black" if b.critical else "none" for b in shown],
            linewidth=0.8, zorder=2,
        )
    ax.set_ylim(len(shown) - 0.4, -0.7)  # first bar on top
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def _date_axis(ax, shown: list[GanttBar], as_of: dt.date, lang: str) -> None:
    days = [as_of]
    for b in shown:
        days += [b.start, b.end] + [d for d in (b.baseline_start, b.baseline_end) if d]
    lo, hi = min(days), max(days)
    pad = max((hi - lo).days * 0.03, 2)
    ax.set_xlim(mdates.date2num(lo) - pad, mdates.date2num(hi) + pad + 1)
    pattern = "d MMM" if (hi - lo).days <= 120 else "LLL yyyy"
    locale = babel_locale(lang)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax.xaxis.set_major_formatter(
        ticker.FuncFormatter(
            lambda x, _pos: format_date(mdates.num2date(x).date(), pattern, locale=locale)
        )
    )


def _legend(fig: Figure, lang: str) -> None:
    """One row centred on the figure, not on the axes: the axes are pushed right by the
    long task labels, and a legend centred on them ran off the right edge ("Сегодня" cut)."""
    _ = translations(lang).gettext
    handles: list[Artist] = [Patch(color=RAG_COLOURS[r], label=rag_word(r, lang)) for r in ("green", "amber", "red")]
    handles.append(Patch(color=BASELINE_COLOUR, label=_("Baseline")))
    handles.append(Line2D([], [], color=TODAY_COLOUR, linestyle="--", label=_("Today")))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncols=5,
               fontsize=FONT_PT, frameon=False, borderaxespad=0.3)


def _short(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


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
