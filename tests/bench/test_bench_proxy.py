"""`svclab bench proxy`: the figure lines, the step timeout, the scenario and the report.

Address plan (``svclab.bench.proxy_scenario``): ClusterIPs 172.30.0.0/16 from
.1, pod IPs 10.0.0.0/8 from .1 (E per Service), replacement pod IPs
10.200.0.0/16, node IP 192.168.0.2. The real runs need root; they work in
``svclab-bench-<pid>-*`` namespaces that must be gone afterwards. No timing
assertions: the figures are printed, never judged.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from svclab.bench.proxy_report import ModeResult, render_result, result_from_json
from svclab.bench.proxy_scenario import build_scenario, endpoint_change, service_change
from svclab.bench.proxy_worker import CallLog, TimedExecutor

REPO = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables-restore"), reason="needs root and iptables"
)


def _bench_namespaces(pid: int) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith(f"svclab-bench-{pid}-")]


@needs_root
@pytest.mark.timeout(240)
def test_quick_iptables_run_prints_every_figure_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "svclab.cli", "bench", "proxy", "--mode", "iptables", "--quick"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=230)
    assert process.returncode == 0, stderr
    for pattern in (
        r"iptables, 1,000 Services x 10 endpoints",
        r"full sync\s+\d[\d.]* (ms|s)\n",
        r"\d+ processes \(iptables/iptables-restore/iptables-save\)",
        r"rules: filter \d+, nat \d+",
        r"partial sync \(1 Service endpoints\)\s+median \d[\d.]* ms .*5 samples, partial\)",
        r"partial floor \(kernel validation\)\s+median \d[\d.]* ms .*iptables-restore -w --noflush of one rule\)",
        r"event-to-rule latency\s+p50 \d[\d.]* ms\s+p99 \d[\d.]* ms\s+\(10 single-Service changes",
        # the full sync restores filter and nat whole, so its floor is the same command
        r"floor\s+\d[\d.]* (ms|s)\s+\(iptables-restore -w, same input\)",
        r"full-sync overhead above floor\s+[+-]\d+%",
    ):
        assert re.search(pattern, stdout), f"{pattern!r} not in:\n{stdout}"
    assert "timed out" not in stdout and "failed" not in stdout, stdout
    assert _bench_namespaces(process.pid) == []


@needs_root
@pytest.mark.timeout(60)
def test_a_step_over_its_timeout_is_reported_and_the_namespaces_go() -> None:
    from svclab.bench import proxy

    parser = argparse.ArgumentParser()
    proxy.add_arguments(parser)
    options = parser.parse_args(["--mode", "iptables", "--services", "1000", "--step-timeout", "0.2"])
    result = proxy.run_mode("iptables", 1000, options)
    text = render_result(result)
    assert "timed out after 0.2 s" in text
    assert "skipped (an earlier step did not finish)" in text
    assert _bench_namespaces(os.getpid()) == []


def _ips(endpoint_slice: Any) -> list[str]:
    return [e.addresses[0] for e in endpoint_slice.endpoints]


def test_scenario_addresses_and_changes() -> None:
    scenario = build_scenario(3, 4)
    services: list[Any] = list(scenario.services)
    assert [s.spec.clusterIP for s in services] == ["172.30.0.1", "172.30.0.2", "172.30.0.3"]
    assert _ips(scenario.slices[1]) == ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"]
    changed: Any = endpoint_change(scenario, 1, 7)
    original: Any = scenario.slices[1]
    assert _ips(changed) == ["10.200.0.8", "10.0.0.6", "10.0.0.7", "10.0.0.8"]
    assert changed.metadata.name == original.metadata.name
    with_affinity: Any = service_change(2, affinity=True)
    without: Any = service_change(2, affinity=False)
    assert with_affinity.spec.sessionAffinity == "ClientIP"
    assert without.spec.sessionAffinity == "None"


def test_timed_executor_counts_calls_and_passes_results_through() -> None:
    class Inner:
        name = "inner"

        def restore(self, text: str) -> int:
            return len(text)

    log = CallLog()
    wrapped = TimedExecutor(Inner(), log)
    assert wrapped.restore("abc") == 3 and wrapped.restore("") == 0
    assert wrapped.name == "inner"
    log.processes.append("/usr/sbin/iptables-restore")
    taken = log.take()
    assert taken["calls"]["restore"][0] == 2 and taken["processes"] == 1
    assert taken["process_names"] == ["iptables-restore"]
    assert log.take()["calls"] == {}


def _record(seconds: float, tool: float, processes: int = 1) -> dict[str, object]:
    return {
        "seconds": seconds,
        "full": False,
        "rules": {"nat": 10},
        "calls": {"restore": [1, tool]},
        "tool_seconds": tool,
        "processes": processes,
        "process_names": ["iptables-restore"],
    }


def test_report_lines_goals_and_overhead_at_ten_thousand() -> None:
    result = ModeResult("nftables", 10_000, 10, kernel="6.1")
    result.steps = {
        "setup": {"step": "setup", "seconds": 2.0},
        "full": {"step": "full", "input_bytes": 2_000_000, **_record(3.0, 2.9), "full": True},
        "partial": {
            "step": "partial",
            "samples": [0.02, 0.03, 0.04],
            "median": 0.03,
            "runs": [_record(0.02, 0.01), _record(0.03, 0.02), _record(0.04, 0.03)],
        },
        "latency": {"step": "latency", "samples": [0.03, 0.05], "p50": 0.03, "p99": 0.05},
        "floor": {"step": "floor", "seconds": 2.0, "command": "nft -f -"},
    }
    text = render_result(result_from_json(result.to_json()))
    assert "nftables, 10,000 Services x 10 endpoints (kernel 6.1):" in text
    assert re.search(r"full-sync overhead above floor\s+\+50%\s+\(goal <= \+50% at 10,000 Services\)", text)
    assert re.search(r"median 30\.0 ms \(min 20\.0 ms, max 40\.0 ms, 3 samples, partial\)\s+\(goal <= 50 ms", text)
    assert "p50 30.0 ms   p99 50.0 ms" in text
    assert "executor calls 20.0 ms [restore 1x 20.0 ms], Python 10.0 ms" in text


def test_report_of_an_error_names_the_step_once() -> None:
    result = ModeResult("ipvs", 1000, 10, kernel="uml", error="full: RuntimeError: boom")
    result.steps = {"setup": {"step": "setup", "seconds": 1.0}}
    lines = render_result(result).splitlines()
    assert any("full" in line and "failed: full: RuntimeError: boom" in line for line in lines)
    assert sum("failed" in line for line in lines) == 1
    assert sum("skipped" in line for line in lines) == 3
    assert "(goal" not in "\n".join(lines)


def test_whole_table_first_restore_only_changes_the_first_restore() -> None:
    from svclab.bench.proxy_worker import WholeTableFirstRestore

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, object]] = []

        def restore(self, data: str, *, noflush: bool = True, counters: bool = False) -> None:
            self.calls.append(("restore", (data, noflush)))

        def save(self, table: str) -> str:
            self.calls.append(("save", table))
            return ""

    inner = Recorder()
    seeded = WholeTableFirstRestore(inner, lambda: inner.calls.append(("reinstall", None)))
    seeded.save("nat")
    seeded.restore("full", noflush=True)
    seeded.restore("partial", noflush=True)
    assert inner.calls == [
        ("save", "nat"),
        ("restore", ("full", False)),
        ("reinstall", None),
        ("restore", ("partial", True)),
    ]


def test_report_of_a_timed_out_full_sync_with_its_seeded_rerun() -> None:
    result = ModeResult("iptables", 10_000, 10, kernel="6.1")
    result.steps = {"setup": {"step": "setup", "seconds": 3.0}}
    result.timeouts = {"full": 240.0}
    seeded = ModeResult("iptables", 10_000, 10, kernel="6.1")
    seeded.steps = {
        "setup": {"step": "setup", "seconds": 3.0},
        "full": {"step": "full", "input_bytes": 1, "seeded": True, **_record(20.0, 19.0)},
    }
    seeded.timeouts = {"partial": 240.0}
    result.seeded = seeded
    text = render_result(result_from_json(result.to_json()))
    assert re.search(r"\n  full\s+timed out after 240 s\n", text)
    assert "then again, the full sync seeded by a whole-table restore" in text
    assert re.search(r"\n    full sync \(seeded, whole-table\)\s+20\.000 s\n", text)
    assert re.search(r"\n    partial\s+timed out after 240 s\n", text)
    assert text.count("skipped (an earlier step did not finish)") == 3 + 2


def test_the_nftables_floor_input_keeps_a_split_syncs_transactions_apart() -> None:
    """A split full sync's transactions reach the floor as they were applied, one ``nft -f`` each."""
    from svclab.bench import proxy_worker

    backend = argparse.Namespace(last_transactions=[["add table ip kube-proxy"], ["add chain ip kube-proxy a", "x"]])
    text, size = proxy_worker._sync_input(backend)
    assert size == len(text.encode())
    assert text.split(proxy_worker._NFT_TRANSACTION_BREAK) == [
        "add table ip kube-proxy\n",
        "add chain ip kube-proxy a\nx\n",
    ]
