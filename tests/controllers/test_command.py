"""`svclab controller-manager --controllers`: the workload controllers are selectable, the default is unchanged."""

from __future__ import annotations

import argparse

import pytest

from svclab.controllers import command
from svclab.kube.testing import FakeClient, FakeRecorder

pytestmark = pytest.mark.timeout(2)

WORKLOADS = ["replicaset", "replicationcontroller", "deployment", "daemonset", "job"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_default_is_the_endpoint_controllers() -> None:
    assert parse().controllers == ["endpoints", "endpointslice", "endpointslice-mirroring"]


def test_workload_controllers_by_upstream_name() -> None:
    args = parse("--controllers", ",".join(WORKLOADS))
    assert args.controllers == WORKLOADS
    _, controllers, _ = command.build_controllers(
        FakeClient(), args.controllers, workers=1, recorder_factory=lambda _c, _n: FakeRecorder()
    )
    assert [c.name for c in controllers] == WORKLOADS
    assert {name: command.CONTROLLERS[name][1] for name in WORKLOADS} == {
        "replicaset": "replicaset-controller",
        "replicationcontroller": "replication-controller",
        "deployment": "deployment-controller",
        "daemonset": "daemonset-controller",
        "job": "job-controller",
    }


def test_unknown_controller_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--controllers", "deployment,statefulset")
    assert "unknown controller(s) statefulset" in capsys.readouterr().err
