"""Regenerate the recorded sample results in tests/report/data/ (run by hand).

    .venv/bin/python tests/report/make_sample_data.py

The numbers are shaped after what the modes do (published anchors: iptables
~96 % of direct, the old userspace proxy ~36 %; iptables' new-connection cost
grows with the number of Services while ipvs and nftables stay flat); the
ipvs testbed runs in User-Mode Linux (one CPU), hence its lower absolute rates.
Tests read the files, never this script, so the files are the fixture.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from svclab.load import Figure, LoadResults, Scenario, TargetKind, write_results

DATA = Path(__file__).parent / "data"
STARTED = "2026-11-26T21:04:12Z"
AREAS = {
    "nodes": 6,
    "pods": 9,
    "services": 24,
    "endpoints": 18,
    "endpointslices": 14,
    "mirroring": 6,
    "session-affinity": 5,
    "nodeport": 8,
    "traffic-policy": 7,
    "rules": 6,
}
# testbed -> area -> (failed, skipped)
DEVIATIONS = {
    "ipvs": {"traffic-policy": (0, 1)},
    "userspace": {"traffic-policy": (0, 7), "nodeport": (1, 0), "rules": (0, 6)},
}
# mode -> (direct keep-alive rps, direct new-conn rps, proxy CPU s per run)
DIRECT = {
    "iptables": (5210, 1930, 0.08),
    "nftables": (5180, 1950, 0.07),
    "ipvs": (2140, 810, 0.11),
    "userspace": (5240, 1910, 8.9),
}
# mode -> scenario -> (ClusterIP ratio, NodePort ratio) at 0 Services
RATIOS = {
    "iptables": {Scenario.KEEPALIVE: (0.96, 0.93), Scenario.NEW_CONNECTION: (0.91, 0.86)},
    "nftables": {Scenario.KEEPALIVE: (0.97, 0.94), Scenario.NEW_CONNECTION: (0.93, 0.88)},
    "ipvs": {Scenario.KEEPALIVE: (0.95, 0.91), Scenario.NEW_CONNECTION: (0.90, 0.84)},
    "userspace": {Scenario.KEEPALIVE: (0.38, 0.33), Scenario.NEW_CONNECTION: (0.31, 0.27)},
}
# mode -> scenario -> ClusterIP ratio at 1000, 5000 extra Services
SWEEP = {
    "iptables": {Scenario.KEEPALIVE: (0.95, 0.95), Scenario.NEW_CONNECTION: (0.84, 0.62)},
    "nftables": {Scenario.KEEPALIVE: (0.97, 0.96), Scenario.NEW_CONNECTION: (0.92, 0.92)},
    "ipvs": {Scenario.KEEPALIVE: (0.95, 0.94), Scenario.NEW_CONNECTION: (0.90, 0.89)},
    "userspace": {Scenario.KEEPALIVE: (0.38, 0.37), Scenario.NEW_CONNECTION: (0.29, 0.22)},
}
CONVERGENCE = {"iptables": 1.08, "nftables": 1.04, "ipvs": 1.31, "userspace": 1.17}
RUNTIME = {"ipvs": ("uml", "6.12.38 (User-Mode Linux)")}


def figure(mode: str, target: TargetKind, scenario: Scenario, services: int, rps: float, ratio: float) -> Figure:
    users = 10
    p50 = float(max(1, round(users / rps * 1000 * 0.9)))
    # the userspace proxy forwards every byte itself, but not for direct traffic
    cpu = 0.02 if mode == "userspace" and target is TargetKind.DIRECT else DIRECT[mode][2]
    html = f"locust-{mode}-{target.value}-{scenario.value}-{services}.html"
    return Figure(
        mode=mode,
        target=target,
        scenario=scenario,
        services=services,
        users=users,
        requests=round(rps * 10),
        failures=0,
        duration_s=10.0,
        rps=round(float(rps), 1),
        p50_ms=p50,
        p95_ms=p50 * 2 + 1,
        p99_ms=float(round(p50 * 3.5 + 2)),
        ratio_to_direct=ratio,
        proxy_cpu_s=round(cpu, 3),
        html_report=html,
    )


def load_figures(mode: str) -> tuple[Figure, ...]:
    rows = []
    for scenario, direct in zip(Scenario, DIRECT[mode][:2]):
        rows.append(figure(mode, TargetKind.DIRECT, scenario, 0, direct, 1.0))
        for target, ratio in zip((TargetKind.CLUSTER_IP, TargetKind.NODE_PORT), RATIOS[mode][scenario]):
            rows.append(figure(mode, target, scenario, 0, direct * ratio, ratio))
        for services, ratio in zip((1000, 5000), SWEEP[mode][scenario]):
            rows.append(figure(mode, TargetKind.CLUSTER_IP, scenario, services, direct * ratio, ratio))
    return tuple(rows)


def junit(mode: str) -> str:
    cases = []
    failures = skipped = 0
    for area, count in AREAS.items():
        failed, skip = DEVIATIONS.get(mode, {}).get(area, (0, 0))
        for i in range(count):
            name = f"test_{area.replace('-', '_')}_{i + 1:02d}"
            classname = f"conformance.test_{area.replace('-', '_')}"
            body = ""
            if i < failed:
                failures += 1
                body = (
                    '<failure message="AssertionError: connection to 172.18.0.3:30080 '
                    'timed out (hairpin)">AssertionError</failure>'
                )
            elif i >= count - skip:
                skipped += 1
                body = f'<skipped type="pytest.skip" message="not supported in {mode} mode"/>'
            cases.append(
                f'<testcase classname={quoteattr(classname)} name="{name}" '
                f'time="0.{(i * 37) % 90 + 10}">{body}</testcase>'
            )
    total = sum(AREAS.values())
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        f'<testsuite name="pytest" errors="0" failures="{failures}" skipped="{skipped}" '
        f'tests="{total}" time="141.2" timestamp="{STARTED}" hostname="svclab">'
        + "".join(cases)
        + "</testsuite></testsuites>\n"
    )


def convergence(mode: str) -> list[dict[str, object]]:
    base = CONVERGENCE[mode]
    kinds = {
        "service created → rules": 1.0,
        "endpoint added → rules": 0.97,
        "endpoint removed → rules": 0.95,
        "service deleted → rules": 1.02,
        "pod ready → EndpointSlice": 0.12,
    }
    return [
        {
            "what": what,
            "seconds": round(base * factor * (1 + k * 0.06), 3),
            "test": f"conformance/test_rules.py::test_{k}",
        }
        for what, factor in kinds.items()
        for k in range(3)
    ]


def phases(mode: str) -> list[dict[str, object]]:
    """Phase timings; userspace's conformance phase is not ok (its nodeport failure)."""
    slow = 3.0 if mode == "ipvs" else 1.0
    failed = sum(f for f, _ in DEVIATIONS.get(mode, {}).values())
    skipped = sum(s for _, s in DEVIATIONS.get(mode, {}).values())
    passed = sum(AREAS.values()) - failed - skipped
    return [
        {"name": "up", "ok": True, "seconds": round(3.4 * slow * 4, 1) if slow > 1 else 3.4, "detail": ""},
        {
            "name": "conformance",
            "ok": not failed,
            "seconds": round(84.0 * slow, 1),
            "detail": f"{passed} passed, {failed} failed, {skipped} skipped",
        },
        {"name": "load", "ok": True, "seconds": round(101.5 * slow, 1), "detail": ""},
        {"name": "down", "ok": True, "seconds": round(5.6 * slow, 1), "detail": ""},
    ]


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for mode in DIRECT:
        (DATA / f"junit-{mode}.xml").write_text(junit(mode))
        (DATA / f"convergence-{mode}.json").write_text(json.dumps(convergence(mode), indent=1) + "\n")
        write_results(
            LoadResults(
                testbed=mode, profile="quick", started=STARTED, figures=load_figures(mode), locust_version="2.47.0"
            ),
            DATA,
        )
        (DATA / f"conformance-{mode}.html").write_text(
            f"<!DOCTYPE html><title>conformance {mode}</title><p>sample pytest-html report</p>\n"
        )
        (DATA / f"locust-{mode}-clusterip-keepalive-0.html").write_text(
            f"<!DOCTYPE html><title>locust {mode}</title><p>sample locust report</p>\n"
        )
    testbeds = {
        mode: {
            "mode": mode,
            "provider": "local",
            "runtime": RUNTIME.get(mode, ("host",))[0],
            "kernel": RUNTIME.get(mode, ("", "6.1.0-40-cloud-amd64"))[1],
            "skipped": "",
            "phases": phases(mode),
        }
        for mode in DIRECT
    }
    testbeds["kind-iptables"] = {
        "mode": "iptables",
        "provider": "kind",
        "runtime": "",
        "kernel": "",
        "skipped": "no Docker engine: kind needs one",
        "phases": [],
    }
    env = {
        "started": STARTED,
        "finished": "2026-11-26T21:16:47Z",
        "profile": "quick",
        "lanes": [["iptables", "kind-iptables", "nftables", "userspace"], ["ipvs"]],
        "host": {
            "kernel": "6.1.0-40-cloud-amd64",
            "python": "3.11.7",
            "svclab": "0.1.0",
            "kubectl": "v1.37.1",
            "iptables": "v1.8.9 (nf_tables)",
            "nft": "v1.0.6",
            "locust": "2.47.0",
            "matplotlib": "3.11.2",
        },
        "testbeds": testbeds,
    }
    (DATA / "environment.json").write_text(json.dumps(env, indent=2) + "\n")


if __name__ == "__main__":
    main()
