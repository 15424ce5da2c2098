"""The Gantt chart (issue 12, point 3): full labels, three bars per row (plan, expected,
baseline), stages grouped with their tasks and "… and N more", one landscape page unless a
big roadmap needs more, drawn at its printed size."""

from __future__ import annotations

import datetime as dt

from PIL import Image

from models.gantt_rows import stage_groups
from models.report_data import GanttBar
from tasks import gantt
from tasks.gantt import DPI, PAGE_IN, layout, render_gantt, wrap_label

D = dt.date
LONG = ("t08 Составить предварительный перечень оборудования по зонам (дерево, металл, цифровое производство, "
        "текстиль, электроника) и согласовать его с партнёрами")


def stage(key: str, **kw) -> GanttBar:
    return GanttBar(label=f"{key} Этап {key}", kind="stage", stage=key, start=D(2015, 1, 5), end=D(2015, 6, 30), **kw)


DUE = D(2015, 3, 1)


def task(key: str, stage_key: str, *, due=DUE, expected=None, critical=False, label=None) -> GanttBar:
    return GanttBar(label=label or f"{key} Задача {key}", stage=stage_key, start=D(2015, 2, 2), end=due,
                    expected=expected or due, critical=critical)


def big_roadmap(stages: int = 10, per_stage: int = 1000) -> list[GanttBar]:
    bars = [stage(f"S{s}") for s in range(stages)]
    for i in range(stages * per_stage):  # listed after all the stages: grouped by their key
        late = i % 50 == 0
        bars.append(task(f"T{i}", f"S{i % stages}", expected=D(2015, 3, 20) if late else None, critical=i % 7 == 0))
    return bars


def shown_labels(plan) -> list[str]:
    return [" ".join(r.lines) for page in plan.pages for r in page]


def test_every_shown_label_is_whole_wrapped_onto_at_most_three_lines():
    lines = wrap_label(LONG, indent=True)
    assert 2 <= len(lines) <= gantt.MAX_LINES
    assert " ".join(lines) == LONG  # nothing cut, no "…"
    plan = layout([stage("S1"), task("t08", "S1", label=LONG)])
    assert LONG in shown_labels(plan)
    # a line fits the label column at the label font, as the chart draws it (measured, not estimated)
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    font = FontProperties(family=gantt.FONT_FAMILY, size=gantt.FONT_PT)
    renderer = RendererAgg(100, 100, 72)
    with gantt.chart_settings():
        for line in lines:
            width_pt = renderer.get_text_width_height_descent(line, font, ismath=False)[0]
            assert width_pt <= (gantt.LABEL_IN - gantt.INDENT_IN) * 72, line


def test_only_a_monster_title_is_cut_and_only_after_three_lines():
    lines = wrap_label("T1 " + "слово " * 200)
    assert len(lines) == gantt.MAX_LINES and lines[-1].endswith("…")


def test_stages_are_followed_by_their_tasks_late_then_critical_first():
    bars = [stage("A"), stage("B"),
            task("b1", "B"), task("a1", "A"), task("a2", "A", critical=True),
            task("a3", "A", expected=D(2015, 3, 10))]  # due 1 Mar, expected 10 Mar: late
    groups = stage_groups(bars, per_stage=2)
    assert [(g.stage.stage, [t.label.split()[0] for t in g.tasks], g.more) for g in groups if g.stage] == [
        ("A", ["a3", "a2"], 1), ("B", ["b1"], 0)]
    assert bars[-1].late and not bars[3].late


def test_a_big_roadmap_is_grouped_with_and_n_more_on_at_most_two_pages():
    bars = big_roadmap()
    plan = layout(bars, "en")
    assert 1 <= len(plan.pages) <= gantt.MAX_PAGES
    rows = [r for page in plan.pages for r in page]
    assert [r.kind for r in rows[:plan.per_stage + 2]] == ["stage"] + ["task"] * plan.per_stage + ["more"]
    more = [r for r in rows if r.kind == "more"]
    assert more and all(r.more == 1000 - plan.per_stage for r in more)
    assert more[0].lines == [f"… and {1000 - plan.per_stage} more."]
    first_tasks = [r.bar for r in rows[1:1 + plan.per_stage]]
    assert all(b is not None and b.late for b in first_tasks)  # the late ones first
    shown_stages = sum(1 for r in rows if r.kind == "stage")
    assert shown_stages + plan.hidden_stages == 10
    for page in plan.pages:
        assert sum(r.height for r in page) <= gantt.page_capacity() + 1e-9


def test_a_big_roadmap_draws_pages_at_landscape_size(tmp_path):
    """(Its speed is bench/bench_report.py's.)"""
    pages = render_gantt(big_roadmap(), D(2015, 3, 2), tmp_path / "big.png", lang="ru")
    assert pages[0] == tmp_path / "big.png" and all(p.exists() for p in pages)
    for page in pages:
        with Image.open(page) as im:
            assert im.width == round(PAGE_IN[0] * DPI) and im.height <= round(PAGE_IN[1] * DPI)


def test_small_roadmap_shows_all_its_tasks_on_one_page():
    bars = [stage("A"), *[task(f"a{i}", "A") for i in range(4)], stage("B"), task("b1", "B")]
    plan = layout(bars)
    assert len(plan.pages) == 1 and plan.per_stage >= 4
    assert [r.kind for r in plan.pages[0]] == ["stage", "task", "task", "task", "task", "stage", "task"]


def test_expected_bar_ends_on_the_expected_day_and_its_late_part_is_red(tmp_path, monkeypatch):
    """The three bars of a late task: plan start..due, expected start..due then due+1..expected
    in the late colour, baseline; read back from the drawn bars (one collection per kind)."""
    from matplotlib import dates as mdates
    from matplotlib.axes import Axes
    from matplotlib.colors import to_hex

    drawn: list = []
    real = Axes.add_collection

    def spy(self, collection, *args, **kwargs):
        drawn.append(collection)
        return real(self, collection, *args, **kwargs)

    monkeypatch.setattr(Axes, "add_collection", spy)
    bar = GanttBar(label="t1 Поздняя задача", stage="A", start=D(2015, 2, 2), end=D(2015, 3, 1),
                   expected=D(2015, 3, 20), baseline_start=D(2015, 2, 2), baseline_end=D(2015, 2, 20), rag="red")
    render_gantt([stage("A"), bar], D(2015, 3, 2), tmp_path / "g.png", lang="ru")
    spans = set()
    for collection in drawn:
        for path, colour in zip(collection.get_paths(), collection.get_facecolors(), strict=True):
            xs = path.vertices[:, 0]
            spans.add((to_hex(colour), mdates.num2date(xs.min()).date(), mdates.num2date(xs.max()).date()))
    one = dt.timedelta(days=1)  # a bar covers its end day
    assert (gantt.RAG_COLOURS["red"].lower(), bar.start, bar.end + one) in spans  # plan
    assert (gantt.EXPECTED_COLOUR.lower(), bar.start, bar.end + one) in spans  # expected, on time part
    assert (gantt.LATE_COLOUR.lower(), bar.end + one, bar.expected + one) in spans  # expected, late part
    assert (gantt.BASELINE_COLOUR.lower(), bar.baseline_start, bar.baseline_end + one) in spans


def test_legend_names_every_bar_and_stays_inside_the_picture(tmp_path):
    from tasks.gantt import TOP_IN

    bars = [stage("A")] + [task(f"T-{i}", "A", label=f"T-{i} " + "Очень длинное название задачи " * 3)
                           for i in range(5)]
    [path] = render_gantt(bars, D(2015, 2, 1), tmp_path / "legend.png", lang="ru")
    with Image.open(path) as im:
        grey = im.convert("L")
        band = int(TOP_IN / 2 * DPI)
        edges = [grey.getpixel((x, y)) for y in range(band)
                 for x in (0, 1, 2, grey.width - 3, grey.width - 2, grey.width - 1)]
        inside = [grey.getpixel((x, y)) for y in range(band) for x in range(grey.width)]
    assert min(edges) == 255, "the legend touches the edge of the picture"
    assert min(inside) < 128, "the legend is drawn in the top band"


def test_legend_labels(monkeypatch, tmp_path):
    from matplotlib.figure import Figure

    seen: list[str] = []
    real = Figure.legend

    def spy(self, *args, **kwargs):
        seen.extend(kwargs["labels"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "legend", spy)
    render_gantt([stage("A")], D(2015, 2, 1), tmp_path / "l.png", lang="en")
    assert seen == ["Plan: green/amber/red", "Critical path", "Expected finish", "Expected after the due date",
                    "Baseline", "Today"]
