"""Figures from measurements: percentiles, histogram merging, ratios, files.

Plan: mode ``iptables``, scenario keep-alive unless stated; the direct
baseline at 1,000 req/s (10,000 requests in 10 s); histogram buckets in ms.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.load import (
    LoadResults,
    Measurement,
    Scenario,
    TargetKind,
    WorkerStats,
    figures_from_measurements,
    merge_histograms,
    percentile_ms,
    read_results,
    results_to_csv,
    write_results,
)


def measurement(
    target: TargetKind,
    requests: int,
    *,
    services: int = 0,
    scenario: Scenario = Scenario.KEEPALIVE,
    failures: int = 0,
    mode: str = "iptables",
    hist: dict[int, int] | None = None,
) -> Measurement:
    stats = WorkerStats(requests=requests, failures=failures, duration_s=10.0, response_times_ms=hist or {1: requests})
    return Measurement(
        mode=mode, target=target, scenario=scenario, services=services, users=10, stats=stats, proxy_cpu_s=1.23456
    )


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.01, 1.0),
        (0.50, 2.0),
        (0.60, 2.0),
        (0.61, 3.0),
        (0.95, 10.0),
        (0.99, 10.0),
        (0.991, 40.0),
        (1.0, 40.0),
    ],
    ids=lambda v: str(v),
)
def test_nearest_rank_percentiles(fraction: float, expected: float) -> None:
    histogram = {1: 30, 2: 30, 3: 20, 10: 19, 40: 1}  # 100 requests
    assert percentile_ms(histogram, fraction) == expected


def test_percentile_of_empty_histogram_is_zero() -> None:
    assert percentile_ms({}, 0.5) == 0.0


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.01])
def test_percentile_rejects_fractions_outside_0_1(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        percentile_ms({1: 1}, fraction)


def test_merge_adds_bucket_counts() -> None:
    assert merge_histograms([{1: 2, 5: 1}, {1: 3, 7: 4}, {}]) == {1: 5, 5: 1, 7: 4}


def test_ratio_to_direct_per_scenario_and_rps_counts_only_successes() -> None:
    figures = figures_from_measurements(
        [
            measurement(TargetKind.DIRECT, 10_000),
            measurement(TargetKind.CLUSTER_IP, 9_600),
            measurement(TargetKind.NODE_PORT, 9_100, failures=100),
            measurement(TargetKind.DIRECT, 4_000, scenario=Scenario.NEW_CONNECTION),
            measurement(TargetKind.CLUSTER_IP, 1_000, scenario=Scenario.NEW_CONNECTION),
        ]
    )
    by_key = {(f.target, f.scenario): f for f in figures}
    assert by_key[TargetKind.DIRECT, Scenario.KEEPALIVE].ratio_to_direct == 1.0
    assert by_key[TargetKind.CLUSTER_IP, Scenario.KEEPALIVE].ratio_to_direct == 0.96
    assert by_key[TargetKind.NODE_PORT, Scenario.KEEPALIVE].rps == 900.0
    assert by_key[TargetKind.NODE_PORT, Scenario.KEEPALIVE].ratio_to_direct == 0.9
    assert by_key[TargetKind.CLUSTER_IP, Scenario.NEW_CONNECTION].ratio_to_direct == 0.25
    assert by_key[TargetKind.CLUSTER_IP, Scenario.KEEPALIVE].proxy_cpu_s == 1.235


def test_sweep_rows_use_same_count_baseline_else_count_zero() -> None:
    figures = figures_from_measurements(
        [
            measurement(TargetKind.DIRECT, 10_000),
            measurement(TargetKind.CLUSTER_IP, 5_000, services=1000),  # no direct at 1000
            measurement(TargetKind.DIRECT, 8_000, services=5000),
            measurement(TargetKind.CLUSTER_IP, 4_000, services=5000),
        ]
    )
    ratios = {(f.target, f.services): f.ratio_to_direct for f in figures}
    assert ratios[TargetKind.CLUSTER_IP, 1000] == 0.5
    assert ratios[TargetKind.CLUSTER_IP, 5000] == 0.5


def test_no_baseline_of_the_same_mode_gives_no_ratio() -> None:
    figures = figures_from_measurements(
        [
            measurement(TargetKind.DIRECT, 10_000, mode="ipvs"),
            measurement(TargetKind.CLUSTER_IP, 9_000, mode="iptables"),
        ]
    )
    assert figures[1].ratio_to_direct is None


def test_percentiles_come_from_the_histogram() -> None:
    (figure,) = figures_from_measurements([measurement(TargetKind.DIRECT, 100, hist={1: 50, 2: 45, 9: 4, 30: 1})])
    assert (figure.p50_ms, figure.p95_ms, figure.p99_ms) == (1.0, 2.0, 9.0)


def test_json_round_trip_and_csv_rows(tmp_path: Path) -> None:
    figures = tuple(
        figures_from_measurements([measurement(TargetKind.DIRECT, 10_000), measurement(TargetKind.CLUSTER_IP, 9_000)])
    )
    results = LoadResults(
        testbed="iptables", profile="quick", started="2026-11-26T22:00:00Z", figures=figures, locust_version="2.47.0"
    )
    json_path, csv_path = write_results(results, tmp_path)
    assert json_path.name == "load-iptables.json" and csv_path.name == "load-iptables.csv"
    assert read_results(json_path) == results
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("mode,target,scenario,services,")
    assert lines[2].startswith("iptables,clusterip,keepalive,0,10,9000,0,10.0,900.0,")
    assert results_to_csv(results) == csv_path.read_text()


def test_read_results_names_the_file_of_a_foreign_document(tmp_path: Path) -> None:
    path = tmp_path / "load-x.json"
    path.write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="load-x.json"):
        read_results(path)


def test_quick_profile_does_not_sweep_in_uml() -> None:
    from svclab.load import PROFILES

    quick = PROFILES["quick"]
    assert quick.for_runtime("host") is quick and quick.sweep_counts == (0, 1000, 5000)
    assert quick.for_runtime("uml").sweep_counts == (0,)
    assert PROFILES["full"].for_runtime("uml").sweep_counts == (0, 1000, 5000, 10000, 30000)
