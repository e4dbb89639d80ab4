"""Figures from rounds: median with min-max, the direct noise floor, differences in ms and the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.load import LoadResults, Measurement, Scenario, TargetKind, WorkerStats, figures_from_measurements
from svclab.load.figures import read_results, write_results
from svclab.load.model import RoundStats


def probe_round(connect_p50: float, first_p50: float) -> RoundStats:
    return RoundStats(
        seconds=2.0,
        requests=1000,
        failures=0,
        latency_ms={
            "CONNECT": {"samples": 1000.0, "p50": connect_p50, "p90": connect_p50 * 2, "p99": connect_p50 * 3},
            "FIRST_RESPONSE": {"samples": 1000.0, "p50": first_p50, "p90": first_p50, "p99": first_p50},
        },
    )


def http_round(requests: int) -> RoundStats:
    return RoundStats(seconds=2.0, requests=requests, failures=0)


def measurement(target: TargetKind, scenario: Scenario, rounds: list[RoundStats]) -> Measurement:
    total = sum(r.requests for r in rounds)
    stats = WorkerStats(requests=total, failures=0, duration_s=6.0, response_times_ms={1: total}, rounds=tuple(rounds))
    return Measurement("iptables", target, scenario, 0, 10, stats, None)


def test_probe_latency_is_the_median_of_rounds_and_its_difference_to_direct_in_ms() -> None:
    direct = measurement(
        TargetKind.DIRECT,
        Scenario.CONNECT_PROBE,
        [probe_round(0.10, 0.30), probe_round(0.12, 0.31), probe_round(0.11, 0.5)],
    )
    # ClusterIP: connect 0.05 ms slower in every round (> floor 0.02 ms); first response mixed
    cluster_ip = measurement(
        TargetKind.CLUSTER_IP,
        Scenario.CONNECT_PROBE,
        [probe_round(0.15, 0.29), probe_round(0.17, 0.40), probe_round(0.16, 0.52)],
    )
    base, path = figures_from_measurements([direct, cluster_ip])
    assert (base.rounds, base.connect_p50_ms, base.connect_p50_low_ms, base.connect_p50_high_ms) == (3, 0.11, 0.1, 0.12)
    assert base.connect_noise_ms == pytest.approx(0.02) and base.verdict is None  # no verdict against itself
    assert path.connect_p50_ms == 0.16 and path.connect_p90_ms == 0.32
    assert (path.connect_diff_ms, path.connect_diff_low_ms, path.connect_diff_high_ms) == (0.05, 0.05, 0.05)
    assert path.verdict == "slower"
    assert path.first_response_diff_ms == pytest.approx(0.02)
    assert path.first_response_verdict == "no measurable difference"  # one round faster: not one-sided


def test_a_ratio_above_100_percent_inside_the_noise_is_no_measurable_difference() -> None:
    direct = measurement(TargetKind.DIRECT, Scenario.KEEPALIVE, [http_round(2000), http_round(2400), http_round(2200)])
    faster = measurement(
        TargetKind.CLUSTER_IP, Scenario.KEEPALIVE, [http_round(2100), http_round(2500), http_round(2300)]
    )
    base, path = figures_from_measurements([direct, faster])
    assert base.rps_noise_pct == pytest.approx(100 * 400 / 2200, abs=0.1)
    assert path.ratio_to_direct == pytest.approx(2300 / 2200, abs=1e-4)  # median of per-round ratios
    assert path.ratio_low == pytest.approx(2500 / 2400, abs=1e-4) and path.ratio_high == 1.05
    assert (path.rps_low, path.rps_high) == (1050.0, 1250.0)
    assert path.verdict == "no measurable difference"


def test_a_clear_throughput_loss_is_slower() -> None:
    direct = measurement(
        TargetKind.DIRECT, Scenario.NEW_CONNECTION, [http_round(1000), http_round(1020), http_round(990)]
    )
    slow = measurement(
        TargetKind.NODE_PORT, Scenario.NEW_CONNECTION, [http_round(700), http_round(720), http_round(690)]
    )
    assert figures_from_measurements([direct, slow])[1].verdict == "slower"


def test_round_fields_survive_json_and_old_documents_still_read(tmp_path: Path) -> None:
    direct = measurement(TargetKind.DIRECT, Scenario.CONNECT_PROBE, [probe_round(0.1, 0.3), probe_round(0.2, 0.4)])
    results = LoadResults("iptables", "quick", "2026-12-03T00:00:00Z", tuple(figures_from_measurements([direct])))
    json_path, _ = write_results(results, tmp_path)
    assert read_results(json_path) == results
    old = Path(__file__).parents[1] / "report" / "data" / "load-iptables.json"
    assert all(f.rounds == 0 and f.verdict is None for f in read_results(old).figures)


def test_req_per_s_is_the_median_of_rounds_not_the_whole_run_mean() -> None:
    burst = measurement(TargetKind.DIRECT, Scenario.KEEPALIVE, [http_round(1000), http_round(1000), http_round(4000)])
    (figure,) = figures_from_measurements([burst])
    assert (figure.rps, figure.rps_low, figure.rps_high) == (500.0, 500.0, 2000.0)  # the whole run: 1,000/s
