"""From measurements to figures, and figures to files (side-effect-free core).

Percentiles come from locust's response-time histogram using the nearest-rank
definition: the p-th percentile is the smallest recorded time such that at
least p % of the requests took that long or less.  Histograms from several
workers (locust's distributed mode) are merged by adding counts, so the same
code serves one local worker and a master with many.

The ratio to direct compares a row's requests/s with the direct baseline of
the same mode and scenario at the same Service count, which the runner
measured interleaved with it in the same run (``svclab.load.slices``); a
count without a direct baseline (a profile whose ``sweep_targets`` leave it
out) falls back to the count-0 one.  When the run had rounds, the ratio is
the median of the per-round ratios and ``svclab.load.noise`` adds their
spread, the noise floor, the probe's latencies and the verdicts.

Files: ``load-<testbed>.json`` (schema ``svclab.load/v2``, below; v1, without
the round fields, is still read) and ``load-<testbed>.csv`` (one header line,
one row per figure, same fields).

    {"schema": "svclab.load/v2", "testbed": str, "profile": str,
     "started": RFC 3339 str, "locust_version": str | null,
     "figures": [{<Figure fields; enums as their values>}, ...]}
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Figure, Measurement, Scenario, TargetKind
from .noise import round_fields

__all__ = [
    "LOAD_SCHEMA",
    "LoadResults",
    "figures_from_measurements",
    "merge_histograms",
    "percentile_ms",
    "read_results",
    "results_to_csv",
    "results_to_json",
    "write_results",
]

LOAD_SCHEMA = "svclab.load/v2"
_READABLE = (LOAD_SCHEMA, "svclab.load/v1")
CSV_FIELDS = tuple(f.name for f in dataclasses.fields(Figure))


@dataclass(frozen=True, slots=True)
class LoadResults:
    """All figures of one testbed's load run."""

    testbed: str
    profile: str
    started: str
    figures: tuple[Figure, ...]
    locust_version: str | None = None


def merge_histograms(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Add response-time histograms bucket by bucket (side-effect-free)."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def percentile_ms(histogram: Mapping[int, int], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1]) of a histogram; 0 when empty."""
    if not 0 < fraction <= 1:
        raise ValueError(f"percentile fraction must be in (0, 1], got {fraction}")
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    rank = math.ceil(fraction * total)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return float(bucket)
    raise AssertionError("unreachable: rank never exceeds the total")


def _baseline_key(m: Measurement | Figure, services: int) -> tuple[str, Scenario, int]:
    return (m.mode, m.scenario, services)


def figures_from_measurements(measurements: Sequence[Measurement]) -> list[Figure]:
    """One figure per measurement, with rates, percentiles and ratio to direct.

    Side-effect-free.  A measurement without a direct run of its mode and
    scenario (at its Service count, else at count 0) gets ``ratio_to_direct``
    None; a direct run gets 1.0 against itself.
    """
    direct_rps: dict[tuple[str, Scenario, int], float] = {}
    directs: dict[tuple[str, Scenario, int], Measurement] = {}
    for m in measurements:
        if m.target is TargetKind.DIRECT:
            direct_rps[_baseline_key(m, m.services)] = _rps(m)
            directs[_baseline_key(m, m.services)] = m
    figures = []
    for m in measurements:
        baseline = direct_rps.get(_baseline_key(m, m.services), direct_rps.get(_baseline_key(m, 0)))
        rps = _rps(m)
        hist = m.stats.response_times_ms
        # rounds pair only within one worker run: the same count's direct
        per_round = round_fields(m, directs.get(_baseline_key(m, m.services)))
        whole_run_ratio = round(rps / baseline, 4) if baseline else None
        figures.append(
            Figure(
                mode=m.mode,
                target=m.target,
                scenario=m.scenario,
                services=m.services,
                users=m.users,
                requests=m.stats.requests,
                failures=m.stats.failures,
                duration_s=round(m.stats.duration_s, 3),
                rps=per_round.pop("rps", round(rps, 1)),
                p50_ms=percentile_ms(hist, 0.50),
                p95_ms=percentile_ms(hist, 0.95),
                p99_ms=percentile_ms(hist, 0.99),
                ratio_to_direct=per_round.pop("ratio_to_direct", whole_run_ratio),
                proxy_cpu_s=None if m.proxy_cpu_s is None else round(m.proxy_cpu_s, 3),
                html_report=m.stats.html_report,
                **per_round,
            )
        )
    return figures


def _rps(m: Measurement) -> float:
    """Successful requests per second over the measured window."""
    if m.stats.duration_s <= 0:
        return 0.0
    return (m.stats.requests - m.stats.failures) / m.stats.duration_s


def _figure_to_dict(figure: Figure) -> dict[str, Any]:
    data = dataclasses.asdict(figure)
    data["target"] = figure.target.value
    data["scenario"] = figure.scenario.value
    return data


_FIELD_INDEX = {f.name: i for i, f in enumerate(dataclasses.fields(Figure))}
_ROUND_FIELDS = {f.name: f.type for f in dataclasses.fields(Figure) if f.default is not dataclasses.MISSING}


def _figure_from_dict(data: Mapping[str, Any]) -> Figure:
    def optional(name: str) -> float | None:
        value = data.get(name)
        return None if value is None else float(value)

    def round_field(name: str) -> Any:
        value = data.get(name)
        if value is None or value == "":
            return dataclasses.fields(Figure)[_FIELD_INDEX[name]].default
        kind = str(_ROUND_FIELDS[name])
        return int(value) if kind.startswith("int") else str(value) if kind.startswith("str") else float(value)

    return Figure(
        mode=str(data["mode"]),
        target=TargetKind(data["target"]),
        scenario=Scenario(data["scenario"]),
        services=int(data["services"]),
        users=int(data["users"]),
        requests=int(data["requests"]),
        failures=int(data["failures"]),
        duration_s=float(data["duration_s"]),
        rps=float(data["rps"]),
        p50_ms=float(data["p50_ms"]),
        p95_ms=float(data["p95_ms"]),
        p99_ms=float(data["p99_ms"]),
        ratio_to_direct=optional("ratio_to_direct"),
        proxy_cpu_s=optional("proxy_cpu_s"),
        html_report=None if data.get("html_report") is None else str(data["html_report"]),
        **{name: round_field(name) for name in _ROUND_FIELDS},
    )


def results_to_json(results: LoadResults) -> str:
    """The JSON document described in the module docstring (side-effect-free)."""
    document = {
        "schema": LOAD_SCHEMA,
        "testbed": results.testbed,
        "profile": results.profile,
        "started": results.started,
        "locust_version": results.locust_version,
        "figures": [_figure_to_dict(f) for f in results.figures],
    }
    return json.dumps(document, indent=2) + "\n"


def results_to_csv(results: LoadResults) -> str:
    """One CSV row per figure, empty cells for None (side-effect-free)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for figure in results.figures:
        row = _figure_to_dict(figure)
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def write_results(results: LoadResults, out_dir: Path) -> tuple[Path, Path]:
    """Write ``load-<testbed>.json`` and ``.csv`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"load-{results.testbed}.json"
    csv_path = out_dir / f"load-{results.testbed}.csv"
    json_path.write_text(results_to_json(results))
    csv_path.write_text(results_to_csv(results))
    return json_path, csv_path


def read_results(path: Path) -> LoadResults:
    """Parse a ``load-<testbed>.json`` file; ValueError names the file when it is not one."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("schema") not in _READABLE:
        raise ValueError(f"{path}: not a {LOAD_SCHEMA} document")
    try:
        figures = tuple(_figure_from_dict(f) for f in data["figures"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad figure: {err}") from err
    return LoadResults(
        testbed=str(data["testbed"]),
        profile=str(data.get("profile", "")),
        started=str(data.get("started", "")),
        figures=figures,
        locust_version=data.get("locust_version"),
    )
