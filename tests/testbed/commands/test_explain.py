"""`svclab explain`'s command: arguments to a ``Target``, text or JSON out, one line on stderr when it cannot."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from svclab.proxy.explain import Choice, Explanation, Outcome, Probe
from svclab.testbed.commands import explain as command
from svclab.testbed.explain import ExplainError, Target

FOUND = Explanation(
    "iptables",
    "default/web:http",
    "k-worker",
    Probe("10.244.1.2", "10.96.0.10", 80),
    Outcome.DNAT,
    choices=(Choice("10.244.1.3:8080", 1.0, "KUBE-SVC-X > KUBE-SEP-Y"),),
    source="pod default/client",
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Target]:
    """The targets the command asked to explain (the cluster is a stand-in)."""
    targets: list[Target] = []

    def explain(handle: Any, target: Target) -> Explanation:
        targets.append(target)
        if target.name == "broken":
            raise ExplainError("service has no port 'x' (ports: http/80)")
        return FOUND

    monkeypatch.setattr(command, "attach_or_say", lambda prog, name: object())
    monkeypatch.setattr(command, "explain_service", explain)
    return targets


def test_arguments_become_the_target(asked: list[Target], capsys: pytest.CaptureFixture[str]) -> None:
    assert command.run(parse("k", "svc/web", "-n", "shop", "--from", "client", "--port", "http", "--node-port")) == 0
    assert asked == [Target("shop", "web", "http", "client", True)]
    out = capsys.readouterr().out
    assert out.startswith("service default/web:http, mode iptables, node k-worker\n")
    assert "10.244.1.3:8080  100.0%" in out


def test_json_is_the_documented_shape(asked: list[Target], capsys: pytest.CaptureFixture[str]) -> None:
    assert command.run(parse("k", "web", "-o", "json")) == 0
    assert asked == [Target("default", "web")]
    printed = json.loads(capsys.readouterr().out)
    assert printed == FOUND.to_json() and printed["schemaVersion"] == 1
    # the shape the README documents: a change here is a new schemaVersion
    assert sorted(printed) == sorted(
        ["schemaVersion", "mode", "service", "node", "packet", "outcome", "hops", "endpoints", "affinity", "notes"]
    )
    assert sorted(printed["packet"]) == ["dport", "dst", "hook", "protocol", "source", "src"]
    assert printed["endpoints"][0] == {
        "endpoint": "10.244.1.3:8080",
        "probability": 1.0,
        "how": "KUBE-SVC-X > KUBE-SEP-Y",
        "masquerade": False,
    }


def test_what_cannot_be_explained_is_one_line_and_status_1(
    asked: list[Target], capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.run(parse("k", "svc/broken")) == 1
    assert capsys.readouterr().err == "svclab explain: service has no port 'x' (ports: http/80)\n"
