"""The report's charts, drawn with matplotlib as SVG text to inline in the page.

Every chart is a function from figures to an SVG string.  Text stays text
(``svg.fonttype: none``: the page's fonts render it, nothing is embedded or
fetched), and each chart gets its own id salt so that the ids of several
inline SVGs cannot collide in one HTML document.  The object API is used
(no pyplot), so no global figure state and no GUI backend is involved.

Colours: a fixed one per testbed/mode (so iptables is the same blue in every
chart; each mode's colour is in the proxy mode registry, ``svclab.proxy.modes``)
and a fixed one per target; the direct baseline is always grey.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from svclab.load.model import Figure, Scenario, TargetKind
from svclab.load.stats import Verdict
from svclab.proxy import modes as proxy_modes

from .inputs import ConvergenceSample

__all__ = [
    "connect_sweep_chart",
    "convergence_chart",
    "latency_chart",
    "mode_colour",
    "sweep_chart",
    "throughput_chart",
]

_FALLBACK = ("#db2777", "#4b5563", "#65a30d", "#0891b2")
TARGET_COLOURS = {
    TargetKind.DIRECT: "#a3a3a3",
    TargetKind.CLUSTER_IP: "#2563eb",
    TargetKind.NODE_PORT: "#f59e0b",
    TargetKind.CLUSTER_IP_TYPICAL: "#60a5fa",
}
TARGET_LABELS = {
    TargetKind.DIRECT: "direct (pod IPs)",
    TargetKind.CLUSTER_IP: "ClusterIP",
    TargetKind.NODE_PORT: "NodePort",
    TargetKind.CLUSTER_IP_TYPICAL: "ClusterIP, typical place",
}
BAR_TARGETS = (TargetKind.DIRECT, TargetKind.CLUSTER_IP, TargetKind.NODE_PORT)  # the throughput and latency bars
SCENARIO_LABELS = {
    Scenario.KEEPALIVE: "keep-alive connections",
    Scenario.NEW_CONNECTION: "new connection per request",
    Scenario.CONNECT_PROBE: "connection set-up (probe)",
}
HTTP_SCENARIOS = (Scenario.KEEPALIVE, Scenario.NEW_CONNECTION)  # the throughput charts' two panels
_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["Inter", "Segoe UI", "Helvetica Neue", "Arial", "DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e5e7eb",
    "axes.axisbelow": True,
    "xtick.color": "#374151",
    "ytick.color": "#374151",
    "axes.labelcolor": "#374151",
    "legend.frameon": False,
}


def mode_colour(name: str, order: Sequence[str] = ()) -> str:
    """The colour of a testbed/mode, stable across charts: the mode's own, else a fallback."""
    spec = proxy_modes.find(name)
    if spec is not None and spec.colour is not None:
        return spec.colour
    index = list(order).index(name) if name in order else len(name)
    return _FALLBACK[index % len(_FALLBACK)]


def _to_svg(fig: MplFigure, chart_id: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": chart_id, "svg.id": chart_id}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return _scope_ids(text[text.index("<svg") :], chart_id)  # no XML declaration/DOCTYPE inline


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


def _scope_ids(svg: str, chart_id: str) -> str:
    """Prefix every element id with the chart's, so several charts share one page.

    matplotlib numbers its groups per figure (``figure_1``, ``patch_1``...),
    which repeat across charts; references (``url(#..)``, ``href="#.."``)
    are rewritten along.  Side-effect-free.
    """
    ids = set(_ID.findall(svg)) - {chart_id}
    svg = _ID.sub(lambda m: f'id="{chart_id}-{m[1]}"' if m[1] in ids else m[0], svg)
    return _REF.sub(lambda m: f"{m[1]}{chart_id}-{m[2]}" if m[2] in ids else m[0], svg)


def _new_figure(columns: int, *, height: float = 3.4) -> tuple[MplFigure, list[Axes]]:
    fig = MplFigure(figsize=(6.2 * columns, height), layout="constrained")
    axes = fig.subplots(1, columns, squeeze=False)[0]
    return fig, list(axes)


def _baseline_rows(figures: Iterable[Figure]) -> list[Figure]:
    return [f for f in figures if f.services == 0]


def _grouped(
    figures: Sequence[Figure], scenario: Scenario, modes: Sequence[str]
) -> dict[tuple[str, TargetKind], Figure]:
    return {(f.mode, f.target): f for f in figures if f.scenario is scenario and f.mode in modes}


def _ratio_label(cell: Figure) -> str:
    """A bar's share of direct; inside the rounds' noise it is no difference, never above 100 %."""
    return "≈ direct" if cell.verdict == Verdict.NO_DIFFERENCE.value else f"{cell.ratio_to_direct:.0%}"


def _round_whiskers(ax: Axes, xs: Sequence[float], cells: Sequence[Figure | None]) -> None:
    """A whisker from the rounds' lowest to highest req/s on each bar that has rounds."""
    spans = [
        (x, c.rps_low, c.rps_high) for x, c in zip(xs, cells) if c and c.rps_low is not None and c.rps_high is not None
    ]
    if spans:
        ax.vlines(
            [x for x, _, _ in spans],
            [lo for _, lo, _ in spans],
            [hi for _, _, hi in spans],
            color="#111827",
            linewidth=1,
        )


def throughput_chart(figures: Sequence[Figure], modes: Sequence[str]) -> str:
    """Requests/s per mode and target, one panel per scenario, % of direct on the bars."""
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(2)
        rows = _baseline_rows(figures)
        width = 0.26
        for ax, scenario in zip(axes, HTTP_SCENARIOS):
            cells = _grouped(rows, scenario, modes)
            for offset, target in enumerate(BAR_TARGETS):
                xs = [i + (offset - 1) * width for i in range(len(modes))]
                values = [cells[m, target].rps if (m, target) in cells else 0.0 for m in modes]
                bars = ax.bar(xs, values, width * 0.92, color=TARGET_COLOURS[target], label=TARGET_LABELS[target])
                _round_whiskers(ax, xs, [cells.get((m, target)) for m in modes])
                for bar, mode in zip(bars, modes):
                    cell = cells.get((mode, target))
                    if cell is not None and target is not TargetKind.DIRECT and cell.ratio_to_direct:
                        ax.annotate(
                            _ratio_label(cell),
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center",
                            va="bottom",
                            fontsize=8,
                            xytext=(0, 2),
                            textcoords="offset points",
                            color="#111827",
                        )
            ax.set_xticks(range(len(modes)), modes)
            ax.set_title(SCENARIO_LABELS[scenario])
            ax.set_ylabel("requests / s")
            ax.margins(y=0.12)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3)
        return _to_svg(fig, "chart-throughput")


def latency_chart(figures: Sequence[Figure], modes: Sequence[str]) -> str:
    """p50 bars with a p95 tick and a whisker to p99, per mode and target."""
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(2)
        rows = _baseline_rows(figures)
        width = 0.26
        for ax, scenario in zip(axes, HTTP_SCENARIOS):
            cells = _grouped(rows, scenario, modes)
            for offset, target in enumerate(BAR_TARGETS):
                present = [(i, cells[m, target]) for i, m in enumerate(modes) if (m, target) in cells]
                xs = [i + (offset - 1) * width for i, _ in present]
                p50 = [c.p50_ms for _, c in present]
                ax.bar(xs, p50, width * 0.92, color=TARGET_COLOURS[target], label=TARGET_LABELS[target])
                ax.vlines(xs, p50, [c.p99_ms for _, c in present], color="#374151", linewidth=1)
                ax.scatter(xs, [c.p95_ms for _, c in present], marker="_", s=60, color="#374151", zorder=3)
                ax.scatter(xs, [c.p99_ms for _, c in present], marker="o", s=9, color="#374151", zorder=3)
            ax.set_xticks(range(len(modes)), modes)
            ax.set_title(SCENARIO_LABELS[scenario])
            # log scale: one testbed's 5 s timeouts must not flatten everyone's milliseconds
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.5)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.set_ylabel("ms, log scale  (bar p50 · tick p95 · dot p99)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3)
        return _to_svg(fig, "chart-latency")


def _sweep_line(ax: Axes, points: Sequence[tuple[int, float, str]], colour: str, mode: str) -> None:
    """One mode's ratio line; points inside the noise hollow, whichever side of 100 % they fell."""
    ax.plot(
        [p[0] for p in points], [p[1] for p in points], marker="o", linewidth=2, markersize=5, color=colour, label=mode
    )
    same = [p for p in points if p[2] == Verdict.NO_DIFFERENCE.value]
    ax.scatter(
        [p[0] for p in same],
        [p[1] for p in same],
        s=30,
        facecolors="white",
        edgecolors=colour,
        linewidths=1.5,
        zorder=3,
    )


def sweep_chart(figures: Sequence[Figure], modes: Sequence[str]) -> str:
    """ClusterIP throughput as % of direct against the number of extra Services (hollow: no measurable difference)."""
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(2)
        # room above 100 %: a noisy run can measure the ClusterIP above its baseline
        top = max(
            [110.0]
            + [
                f.ratio_to_direct * 100 + 8
                for f in figures
                if f.target is TargetKind.CLUSTER_IP and f.ratio_to_direct is not None
            ]
        )
        for ax, scenario in zip(axes, HTTP_SCENARIOS):
            for mode in modes:
                points = sorted(
                    (f.services, f.ratio_to_direct * 100, f.verdict or "")
                    for f in figures
                    if f.mode == mode
                    and f.scenario is scenario
                    and f.target is TargetKind.CLUSTER_IP
                    and f.ratio_to_direct is not None
                )
                if points:
                    _sweep_line(ax, points, mode_colour(mode, modes), mode)
            ax.axhline(100, color=TARGET_COLOURS[TargetKind.DIRECT], linestyle="--", linewidth=1.2)
            ax.annotate(
                "direct = 100 %",
                (1, 100),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color="#6b7280",
            )
            ax.set_ylim(0, top)
            ax.set_title(SCENARIO_LABELS[scenario])
            ax.set_xlabel("extra Services")
            ax.set_ylabel("ClusterIP req/s, % of direct (hollow: within noise)")
            ax.grid(True, axis="both")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=max(len(modes), 1))
        return _to_svg(fig, "chart-sweep")


def convergence_chart(samples: Mapping[str, Sequence[ConvergenceSample]], modes: Sequence[str]) -> str:
    """Median seconds per kind of change (bars) and the slowest (tick), per testbed."""
    whats = sorted({s.what for seq in samples.values() for s in seq})
    shown = [m for m in modes if samples.get(m)]
    with matplotlib.rc_context({**_STYLE, "axes.grid.axis": "x"}):
        bars = max(len(whats), 1) * max(len(shown), 1)
        fig = MplFigure(figsize=(6.4, 0.17 * bars + 1.3), layout="constrained")
        ax = fig.subplots()
        height = 0.8 / max(len(shown), 1)
        for offset, mode in enumerate(shown):
            ys, medians, maxima = [], [], []
            for i, what in enumerate(whats):
                values = [s.seconds for s in samples[mode] if s.what == what]
                if values:
                    ys.append(i - 0.4 + height * (offset + 0.5))
                    medians.append(statistics.median(values))
                    maxima.append(max(values))
            ax.barh(ys, medians, height * 0.9, color=mode_colour(mode, modes), label=mode)
            ax.scatter(maxima, ys, marker="|", s=80, color="#374151", zorder=3)
        ax.set_yticks(range(len(whats)), whats)
        ax.invert_yaxis()
        ax.set_xlabel("seconds (bar: median, tick: slowest)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncols=max(len(shown), 1))
        return _to_svg(fig, "chart-convergence")


def _probe_points(figures: Sequence[Figure], mode: str, target: TargetKind, field: str) -> list[tuple[int, Figure]]:
    return sorted(
        (
            (f.services, f)
            for f in figures
            if f.mode == mode
            and f.scenario is Scenario.CONNECT_PROBE
            and f.target is target
            and getattr(f, field) is not None
        ),
        key=lambda p: p[0],
    )


# the typical place's line: dash-dot, square points, beside the worst case's solid line and circles
_TYPICAL: dict[str, Any] = {"marker": "s", "linestyle": "-.", "linewidth": 1.5}


def _errorbar(ax: Axes, points: Sequence[tuple[int, Figure]], field: str, **style: Any) -> None:
    """Median per count with a bar from the rounds' min to max (``<field>`` and its ``_low``/``_high``)."""
    stem = field.removesuffix("_ms")
    xs = [count for count, _ in points]
    ys = [getattr(f, field) for _, f in points]
    low = [y - (getattr(f, f"{stem}_low_ms") or y) for y, (_, f) in zip(ys, points)]
    high = [(getattr(f, f"{stem}_high_ms") or y) - y for y, (_, f) in zip(ys, points)]
    style = {"marker": "o", **style}
    ax.errorbar(xs, ys, yerr=[low, high], markersize=4, capsize=3, **style)


def _position_label(ax: Axes, points: Sequence[tuple[int, Figure]], colour: str) -> None:
    """The read-back rule position at a line's last point ("rule 10,003 / 10,004"), where there is one."""
    count, f = points[-1]
    if f.rule_position is not None and f.rules_in_chain:
        text = f"rule {f.rule_position:,} / {f.rules_in_chain:,}"
        where = (count, f.connect_p50_ms or 0.0)
        ax.annotate(text, where, xytext=(4, 0), textcoords="offset points", fontsize=7, color=colour)


def connect_sweep_chart(figures: Sequence[Figure], modes: Sequence[str]) -> str:
    """The probe against the number of extra Services: connect p50, and its difference to direct.

    Points are the median of the rounds, bars their min-max.  Per mode, in
    its colour: the worst-placed ClusterIP solid, the typically placed one
    dash-dotted with square markers (issue 17), the direct baseline dashed
    (left panel only).
    """
    with matplotlib.rc_context(_STYLE):
        fig, (left, right) = _new_figure(2)
        for mode in modes:
            colour = mode_colour(mode, modes)
            path = _probe_points(figures, mode, TargetKind.CLUSTER_IP, "connect_p50_ms")
            if not path:
                continue
            _errorbar(left, path, "connect_p50_ms", color=colour, label=mode, linewidth=2)
            _position_label(left, path, colour)
            typical = _probe_points(figures, mode, TargetKind.CLUSTER_IP_TYPICAL, "connect_p50_ms")
            if typical:
                _errorbar(left, typical, "connect_p50_ms", color=colour, **_TYPICAL)
                _position_label(left, typical, colour)
            direct = _probe_points(figures, mode, TargetKind.DIRECT, "connect_p50_ms")
            if direct:
                _errorbar(left, direct, "connect_p50_ms", color=colour, linestyle="--", linewidth=1, alpha=0.6)
            diff = _probe_points(figures, mode, TargetKind.CLUSTER_IP, "connect_diff_ms")
            if diff:
                _errorbar(right, diff, "connect_diff_ms", color=colour, linewidth=2)
            typical_diff = _probe_points(figures, mode, TargetKind.CLUSTER_IP_TYPICAL, "connect_diff_ms")
            if typical_diff:
                _errorbar(right, typical_diff, "connect_diff_ms", color=colour, **_TYPICAL)
        left.set_title("ClusterIP TCP connect, p50 (solid: worst place, dash-dot: typical, dashed: direct)", fontsize=9)
        left.set_ylabel("ms")
        right.axhline(0, color=TARGET_COLOURS[TargetKind.DIRECT], linestyle="--", linewidth=1.2)
        right.set_title("ClusterIP connect p50 minus direct, same round", fontsize=9)
        right.set_ylabel("ms (above 0: slower than direct)")
        for ax in (left, right):
            ax.set_xlabel("extra Services")
            ax.grid(True, axis="both")
        fig.legend(*left.get_legend_handles_labels(), loc="outside upper center", ncols=max(len(modes), 1))
        return _to_svg(fig, "chart-connect-sweep")
