"""The explain phase's example: what it creates, and the outcome line the run prints."""

from __future__ import annotations

from pathlib import Path

import yaml

from svclab.run.explain_phase import EXPLAIN_NAMESPACE, ExplainOutcome, manifest


def test_manifest_is_a_namespace_two_backends_a_client_and_the_service() -> None:
    docs = list(yaml.safe_load_all(manifest()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", EXPLAIN_NAMESPACE),
        ("Pod", "web-0"),
        ("Pod", "web-1"),
        ("Pod", "client"),
        ("Service", "web"),
    ]
    assert all(d["metadata"].get("namespace") == EXPLAIN_NAMESPACE for d in docs[1:])
    service, backends = docs[-1], [d for d in docs if d["metadata"].get("labels") == {"app": "web"}]
    assert service["spec"]["selector"] == {"app": "web"} and len(backends) == 2
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]
    assert backends[0]["spec"]["containers"][0]["args"] == ["netexec", "--http-port=8080"]


def test_outcome_line() -> None:
    outcome = ExplainOutcome(Path("/r/explain-iptables.json"), 2, "dnat")
    assert outcome.ok and outcome.describe() == "dnat to 2 endpoint(s), explain-iptables.json"
