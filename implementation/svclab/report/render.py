"""``render_report``: the results directory of a run -> ``index.html`` (and ``explain.html``).

Two steps: ``build_view`` turns the parsed inputs into plain values the
template shows (side-effect-free apart from drawing the charts in memory),
then Jinja2 renders ``templates/index.html.j2``.  The page is one
self-contained file: inline CSS, inline SVG charts, no scripts, no fonts;
links to the per-testbed files (pytest-html, JUnit, load JSON/CSV, locust's
reports) are relative to the output directory, so the folder can be moved or
served as it is.
"""

from __future__ import annotations

import datetime
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from svclab.load.model import Figure, Scenario, TargetKind
from svclab.load.position import Placement, describe_placement
from svclab.proxy import modes as proxy_modes

from . import charts
from .explain import explain_rows, read_explanations, render_explain_page
from .inputs import AreaCounts, ReportInputs, TestbedInputs, load_inputs
from .resilience import RECOVERY_GOAL, resilience_rows

__all__ = [
    "Headline",
    "build_view",
    "describe_position",
    "describe_run_time",
    "headline",
    "headline_ratios",
    "render_report",
]

# the connect table's rows: the two measured Services by where they stand among the sweep's (issue 17)
_CONNECT_ROWS = {
    TargetKind.DIRECT: "direct (pod IPs)",
    TargetKind.CLUSTER_IP: "ClusterIP web: sorts last, the worst place where rules go by name",
    TargetKind.CLUSTER_IP_TYPICAL: "ClusterIP svclab-sweep-middle: sorts mid, the typical place",
}


@dataclass(frozen=True, slots=True)
class Headline:
    """A testbed's line in the summary."""

    status: str  # passed | failed | no-tests | not-run | broken
    passed: int
    failed: int
    skipped: int
    keepalive_ratio: float | None  # ClusterIP / direct, 0 extra Services (median of rounds)
    new_connection_ratio: float | None
    # the same rows in full, for their min-max, noise floor and verdict; and the probe's ClusterIP row
    keepalive: Figure | None = None
    new_connection: Figure | None = None
    connect: Figure | None = None


def _order(testbeds: Sequence[TestbedInputs]) -> list[TestbedInputs]:
    """Testbeds named after a proxy mode first, in the mode registry's order; the others by name."""
    order = proxy_modes.mode_names()

    def key(t: TestbedInputs) -> tuple[int, str]:
        return (order.index(t.name) if t.name in order else len(order), t.name)

    return sorted(testbeds, key=key)


def _cluster_ip_row(figures: Sequence[Figure], scenario: Scenario) -> Figure | None:
    for f in figures:
        if f.target is TargetKind.CLUSTER_IP and f.scenario is scenario and f.services == 0:
            return f
    return None


def _ratio(figures: Sequence[Figure], scenario: Scenario) -> float | None:
    row = _cluster_ip_row(figures, scenario)
    return None if row is None else row.ratio_to_direct


def _left_out(info: Mapping[str, Any]) -> str:
    """What the run's selection left out of the testbed's suite, as its conformance phase said it."""
    for phase in info.get("phases", ()):
        if phase.get("name") == "conformance" and "left out" in phase.get("detail", ""):
            return str(phase["detail"]).split("; ", 1)[-1]
    return ""


def _broken_phases(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The phases of a testbed's run that did not end well (environment.json's ``phases``)."""
    return [p for p in info.get("phases", ()) if not p.get("ok", True)]


def headline(testbed: TestbedInputs, info: Mapping[str, Any] | None = None) -> Headline:
    """Pass/fail totals and ClusterIP ratios of a testbed (side-effect-free).

    ``info`` is the testbed's entry in environment.json: a testbed skipped by
    the run is ``not-run``; one whose up/load/down phase broke is ``broken``.
    """
    info = info or {}
    areas = testbed.areas or {}
    passed = sum(a.passed for a in areas.values())
    failed = sum(a.failed for a in areas.values())
    skipped = sum(a.skipped for a in areas.values())
    if info.get("skipped"):
        status = "not-run"
    elif failed:
        status = "failed"
    elif _broken_phases(info):
        status = "broken"
    else:
        status = "passed" if passed else "no-tests"
    figures = testbed.load.figures if testbed.load else ()
    return Headline(
        status=status,
        passed=passed,
        failed=failed,
        skipped=skipped,
        keepalive_ratio=_ratio(figures, Scenario.KEEPALIVE),
        new_connection_ratio=_ratio(figures, Scenario.NEW_CONNECTION),
        keepalive=_cluster_ip_row(figures, Scenario.KEEPALIVE),
        new_connection=_cluster_ip_row(figures, Scenario.NEW_CONNECTION),
        connect=_cluster_ip_row(figures, Scenario.CONNECT_PROBE),
    )


def _link(path: Path | None, out_dir: Path) -> str | None:
    return os.path.relpath(path, out_dir) if path is not None else None


def _cell(counts: AreaCounts | None) -> dict[str, Any]:
    if counts is None or counts.total == 0:
        return {"cls": "none", "text": "–", "title": "not run", "skipped": 0, "failed": 0}
    cls = "fail" if counts.failed else ("skip" if counts.passed == 0 else "pass")
    text = f"{counts.passed}/{counts.total - counts.skipped}"
    title = f"{counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped"
    return {"cls": cls, "text": text, "title": title, "skipped": counts.skipped, "failed": counts.failed}


def _load_rows(testbed: TestbedInputs, results_dir: Path, out_dir: Path) -> list[dict[str, Any]]:
    rows = []
    figures = testbed.load.figures if testbed.load else ()
    for f in sorted(
        figures, key=lambda f: (list(Scenario).index(f.scenario), f.services, list(TargetKind).index(f.target))
    ):
        report = results_dir / f.html_report if f.html_report else None
        probe = f.scenario is Scenario.CONNECT_PROBE and f.connect_p50_ms is not None
        rows.append(
            {
                "f": f,
                # the probe's exact connect percentiles, not locust's 1 ms histogram buckets
                "latency": (f.connect_p50_ms, f.connect_p90_ms, f.connect_p99_ms)
                if probe
                else (f.p50_ms, f.p95_ms, f.p99_ms),
                "digits": 3 if probe else 0,
                "target": charts.TARGET_LABELS[f.target],
                "scenario": charts.SCENARIO_LABELS[f.scenario],
                "locust": _link(report, out_dir) if report and report.exists() else None,
            }
        )
    return rows


def _convergence_rows(inputs: Sequence[TestbedInputs]) -> list[dict[str, Any]]:
    """Changes and their convergence times; recovery times go to the resilience section."""
    whats = sorted({s.what for t in inputs for s in t.convergence if not s.fault})
    rows = []
    for what in whats:
        cells = []
        for t in inputs:
            values = [s.seconds for s in t.convergence if s.what == what and not s.fault]
            cells.append(
                {"median": statistics.median(values), "max": max(values), "n": len(values)} if values else None
            )
        rows.append({"what": what, "cells": cells})
    return rows


def _testbed_view(
    t: TestbedInputs,
    info: Mapping[str, Any],
    areas: Sequence[str],
    names: Sequence[str],
    results_dir: Path,
    out_dir: Path,
) -> dict[str, Any]:
    """One testbed's column in the report: its phases, headline, conformance cells and links."""
    links = (("conformance", t.conformance_html), ("junit", t.junit), ("json", t.load_json), ("csv", t.load_csv))
    return {
        "phases": {p["name"]: p for p in info.get("phases", ())},
        "broken": _broken_phases(info),
        "name": t.name,
        "mode": info.get("mode", t.name),
        "runtime": info.get("runtime", "host"),
        "kernel": info.get("kernel", ""),
        "provider": info.get("provider", ""),
        "colour": charts.mode_colour(t.name, names),
        "headline": headline(t, info),
        "cells": [_cell((t.areas or {}).get(a)) if t.areas is not None else _cell(None) for a in areas],
        "failed_tests": t.failed_tests,
        "left_out": _left_out(info),
        "links": {k: _link(v, out_dir) for k, v in links},
        "load_rows": _load_rows(t, results_dir, out_dir),
    }


def build_view(
    inputs: ReportInputs, results_dir: Path, out_dir: Path, *, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """The values the template shows; charts are inline SVG strings."""
    env = inputs.environment
    env_testbeds = env.get("testbeds", {})
    everything = _order(inputs.testbeds)
    testbeds = [t for t in everything if not env_testbeds.get(t.name, {}).get("skipped")]
    names = [t.name for t in testbeds]
    areas = sorted({a for t in testbeds for a in (t.areas or {})})
    figures = [f for t in testbeds if t.load for f in t.load.figures]
    load_modes = [t.name for t in testbeds if t.load]
    # a load figure's "mode" is its testbed's mode; charts group by testbed name
    by_testbed = [_renamed(f, t.name) for t in testbeds if t.load for f in t.load.figures]
    view: dict[str, Any] = {
        "generated": (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "ran": describe_run_time(env.get("started"), env.get("finished")),
        "profile": env.get("profile"),
        "host": env.get("host", {}),
        "areas": areas,
        "convergence": _convergence_rows(testbeds),
        "resilience": resilience_rows(testbeds),
        "recovery_goal": RECOVERY_GOAL,
        "charts": dict.fromkeys(("throughput", "latency", "sweep", "connect_sweep", "convergence")),
        "not_run": [{"name": t.name, **env_testbeds[t.name]} for t in everything if t not in testbeds],
        "phase_names": _phase_names(env_testbeds.values()),
        "lanes": [lane for lane in env.get("lanes", ()) if lane],
    }
    view["testbeds"] = [
        _testbed_view(t, env_testbeds.get(t.name, {}), areas, names, results_dir, out_dir) for t in testbeds
    ]
    if figures:
        view["charts"]["throughput"] = Markup(charts.throughput_chart(by_testbed, load_modes))
        view["charts"]["latency"] = Markup(charts.latency_chart(by_testbed, load_modes))
        if any(f.services and f.scenario in charts.HTTP_SCENARIOS for f in figures):
            view["charts"]["sweep"] = Markup(charts.sweep_chart(by_testbed, load_modes))
        if any(f.connect_p50_ms is not None for f in figures):
            view["charts"]["connect_sweep"] = Markup(charts.connect_sweep_chart(by_testbed, load_modes))
    if any(not s.fault for t in testbeds for s in t.convergence):
        changes = {t.name: tuple(s for s in t.convergence if not s.fault) for t in testbeds}
        view["charts"]["convergence"] = Markup(charts.convergence_chart(changes, names))
    explanations = read_explanations(results_dir)
    view["explain"] = explain_rows(explanations, [*names, *sorted(set(explanations) - set(names))])
    view["sweep_table"] = _sweep_table(by_testbed, load_modes)
    view["swept_probe_only"] = any(f.services for f in figures) and not view["charts"]["sweep"]
    view["connect_table"] = _connect_table(by_testbed, load_modes)
    view["short_sweeps"] = _short_sweeps(by_testbed, view["testbeds"])
    view["sweep_reach"] = sweep_reach(by_testbed, view["testbeds"], env.get("profile"))
    return view


def describe_position(f: Figure) -> str:
    """Where a figure's ClusterIP stood in its proxy's dispatch, as read back ("" when unknown)."""
    if f.rule_position is None and not f.position_note:
        return ""
    # figures written before rule_chain existed were read from iptables' KUBE-SERVICES
    chain = f.rule_chain or ("KUBE-SERVICES" if f.rule_position is not None else None)
    return describe_placement(Placement(f.rule_position, f.rules_in_chain, chain, f.position_note))


def sweep_reach(
    figures: Sequence[Figure], testbeds: Sequence[Mapping[str, Any]], profile: str | None
) -> list[dict[str, Any]]:
    """Per testbed: the largest Service count reached, that step's seconds, and why it stopped there."""
    rows = []
    top = max((f.services for f in figures), default=0)
    for t in testbeds:
        own = [f for f in figures if f.mode == t["name"]]
        if not own:
            continue
        highest = max(f.services for f in own)
        step = next((f for f in own if f.services == highest and f.target is TargetKind.CLUSTER_IP), None)
        if highest < top and t["runtime"] == "uml":
            why = "one-CPU User-Mode Linux guest: the quick profile stops there (--profile full sweeps on)"
        else:
            why = f"last step of the {profile or 'run'} profile" + (
                ", sized for the 15-minute make run" if profile == "quick" else ""
            )
        rows.append(
            {
                "name": t["name"],
                "highest": highest,
                "create_s": step.create_s if step else None,
                "program_s": step.program_s if step else None,
                "why": why,
            }
        )
    return rows


def _short_sweeps(figures: Sequence[Figure], testbeds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Testbeds whose sweep stopped below the others' (the quick profile in a UML guest)."""
    highest = {t["name"]: max((f.services for f in figures if f.mode == t["name"]), default=None) for t in testbeds}
    top = max((h for h in highest.values() if h is not None), default=0)
    shorter = []
    for t in testbeds:
        reached = highest[t["name"]]
        if reached is not None and reached < top:
            shorter.append({"name": t["name"], "highest": reached, "runtime": t["runtime"]})
    return shorter


def _phase_names(entries: Any) -> list[str]:
    """The phases any testbed went through, in the order they ran."""
    names: list[str] = []
    for entry in entries:
        for phase in entry.get("phases", ()):
            if phase["name"] not in names:
                names.append(phase["name"])
    return names


def _renamed(f: Figure, testbed: str) -> Figure:
    return f if f.mode == testbed else replace(f, mode=testbed)


def _sweep_table(figures: Sequence[Figure], modes: Sequence[str]) -> dict[str, Any]:
    counts = sorted({f.services for f in figures if f.scenario in charts.HTTP_SCENARIOS})
    rows = []
    for scenario in charts.HTTP_SCENARIOS:
        for mode in modes:
            cells = {
                f.services: f.ratio_to_direct
                for f in figures
                if f.mode == mode and f.scenario is scenario and f.target is TargetKind.CLUSTER_IP
            }
            if cells:
                rows.append(
                    {
                        "mode": mode,
                        "scenario": charts.SCENARIO_LABELS[scenario],
                        "cells": [cells.get(c) for c in counts],
                    }
                )
    return {"counts": counts, "rows": rows} if len(counts) > 1 else {}


def _connect_table(figures: Sequence[Figure], modes: Sequence[str]) -> dict[str, Any]:
    """Per mode and Service count: the probe's direct and ClusterIP (worst, typical place)
    connect p50 with spreads and verdict."""
    probe = [f for f in figures if f.scenario is Scenario.CONNECT_PROBE and f.connect_p50_ms is not None]
    counts = sorted({f.services for f in probe})
    rows = []
    for mode in modes:
        for target, label in _CONNECT_ROWS.items():
            cells = {f.services: f for f in probe if f.mode == mode and f.target is target}
            if cells:
                rows.append({"mode": mode, "target": label, "cells": [cells.get(c) for c in counts]})
    return {"counts": counts, "rows": rows} if rows else {}


def _parse_time(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def describe_run_time(started: str | None, finished: str | None) -> str | None:
    """``26 Nov 2026, 21:04 – 21:16 UTC (12 min)`` from RFC 3339 times (side-effect-free)."""
    start, end = _parse_time(started), _parse_time(finished)
    if start is None:
        return started
    start = start.astimezone(datetime.UTC)
    text = f"{start:%d %b %Y, %H:%M}"
    if end is None:
        return text + " UTC"
    end = end.astimezone(datetime.UTC)
    minutes = round((end - start).total_seconds() / 60)
    same_day = end.date() == start.date()
    return f"{text} – {end:%H:%M} UTC ({minutes} min)" if same_day else f"{text} – {end:%d %b %Y, %H:%M} UTC"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("svclab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v, d=0: "–" if v is None else f"{v:,.{d}f}"
    env.filters["position"] = describe_position
    env.filters["ms"] = lambda v, signed=False: "–" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")
    return env


def render_report(results_dir: Path, out_dir: Path, *, now: datetime.datetime | None = None) -> Path:
    """Write ``out_dir/index.html`` from the files in ``results_dir``; return its path."""
    inputs = load_inputs(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = build_view(inputs, results_dir.resolve(), out_dir.resolve(), now=now)
    env = _environment()
    html = env.get_template("index.html.j2").render(**view)
    render_explain_page(env, read_explanations(results_dir), [row["testbed"] for row in view["explain"]], out_dir)
    index = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text(html)
    tmp.replace(index)
    return index


def headline_ratios(view: Mapping[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """Testbed -> (keep-alive, new-connection) ClusterIP ratio, from a built view."""
    return {t["name"]: (t["headline"].keepalive_ratio, t["headline"].new_connection_ratio) for t in view["testbeds"]}
