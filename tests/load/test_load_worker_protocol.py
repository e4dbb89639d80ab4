"""The runner/worker contract: argv round trip and the v2 JSON (pure; no locust)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svclab.load import (
    WORKER_SCHEMA,
    Scenario,
    WorkerOptions,
    parse_worker_argv,
    parse_worker_output,
    worker_argv,
)

OPTIONS = WorkerOptions(
    targets=(
        ("direct", ("http://10.244.1.2:8080/hostname", "http://[fd00::5]:8080/hostname")),
        ("clusterip", ("http://10.96.0.10:8080/hostname",)),
    ),
    scenario=Scenario.NEW_CONNECTION,
    users=7,
    run_time_s=2.5,
    slice_s=0.25,
    json_out=Path("/w/out.json"),
    html_out=Path("/w/out.html"),
    cpu_pid=4242,
)


@pytest.mark.parametrize(
    "options",
    [
        OPTIONS,
        WorkerOptions(
            targets=(("a", ("http://x/",)),),
            scenario=Scenario.KEEPALIVE,
            users=1,
            run_time_s=6.0,
            slice_s=1.0,
            json_out=Path("o.json"),
        ),
    ],
)
def test_worker_argv_round_trips(options: WorkerOptions) -> None:
    argv = worker_argv(options, python="/venv/bin/python")
    assert argv[:3] == ["/venv/bin/python", "-m", "svclab.load.worker"]
    assert parse_worker_argv(argv[3:]) == options


def test_targets_keep_their_order_and_urls() -> None:
    argv = worker_argv(OPTIONS, python="python")
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--target"] == [
        "direct=http://10.244.1.2:8080/hostname,http://[fd00::5]:8080/hostname",
        "clusterip=http://10.96.0.10:8080/hostname",
    ]


@pytest.mark.parametrize(
    "bad", [["--target", "direct"], ["--target", "=http://x/"], ["--target", "a=http://x/", "--target", "a=http://y/"]]
)
def test_bad_targets_are_refused(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_worker_argv([*bad, "--json", "o.json"])


def _document(**overrides: object) -> str:
    target = {
        "name": "direct",
        "urls": ["http://x/"],
        "requests": 10,
        "failures": 1,
        "duration_s": 2.0,
        "slices": 4,
        "response_times_ms": {"3": 9, "12": 1},
        "errors": {"refused": 1},
        "proxy_cpu_s": 0.25,
    }
    document = {
        "schema": WORKER_SCHEMA,
        "scenario": "keepalive",
        "users": 2,
        "run_time_s": 2.0,
        "slice_s": 0.5,
        "targets": [target, {**target, "name": "clusterip", "proxy_cpu_s": None}],
        "html_report": "/w/run.html",
        "locust_version": "2.47.0",
    }
    return json.dumps({**document, **overrides})


def test_worker_output_gives_one_run_per_target_sharing_the_html_report() -> None:
    direct, cluster_ip = parse_worker_output(_document())
    assert (direct.name, direct.slices, direct.proxy_cpu_s) == ("direct", 4, 0.25)
    assert cluster_ip.name == "clusterip" and cluster_ip.proxy_cpu_s is None
    assert direct.stats.response_times_ms == {3: 9, 12: 1}
    assert direct.stats.errors == {"refused": 1}
    assert direct.stats.html_report == cluster_ip.stats.html_report == "/w/run.html"


@pytest.mark.parametrize(
    "text", [_document(schema="svclab.load-worker/v1"), _document(targets=[{"name": "direct"}]), "[]", "{"]
)
def test_malformed_worker_output_names_its_source(text: str) -> None:
    with pytest.raises(ValueError, match=r"^/w/out.json: not a valid svclab.load-worker/v3"):
        parse_worker_output(text, source="/w/out.json")
