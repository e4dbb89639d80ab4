"""pytest fixtures of the conformance suite (imported by ``conformance/conftest.py``).

* ``cluster`` (session, one instance per ``--testbed`` / ``--cluster``): a
  ``ClusterUnderTest``. Clusters from ``--testbed`` are brought up on first use
  and torn down when the session moves to the next one or ends, also when a
  test failed or the run was interrupted. A testbed whose kernel resolves to
  ``uml`` comes up inside a User-Mode Linux guest (same code path as ``svclab
  up``); the JUnit report gets ``<id>.kernel`` (``host`` / ``uml <version>``)
  as a test-suite property. While a cluster is under test, ``wait_for``
  deadlines are stretched by ``time_scale_for(kernel)`` (3x in a UML guest,
  which has one CPU).
* ``client``: a lightkube ``Client`` for the cluster.
* ``namespace``: a fresh Namespace per test, deleted afterwards.
* ``node_host``: ``node_host(node_name)`` -> testinfra Host on that node.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from harness.cluster import ClusterUnderTest, local_cluster
from harness.waiting import set_time_scale
from svclab.testbed.local.cluster import bring_up, read_cluster, tear_down

__all__ = ["ClusterRef", "client", "cluster", "cluster_ref", "namespace", "node_host",
           "tear_down_leftovers"]

UML_TIME_SCALE = 3.0  # a one-CPU UML guest runs the same work about this much slower
BRING_UP_TIMEOUT = 120.0  # per phase in a UML guest (boot is allowed on top)
_brought_up: set[str] = set()  # names this session brought up, for the safety net


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """What ``--testbed FILE`` or ``--cluster NAME`` asked for."""

    testbed: str | None = None
    existing: str | None = None

    @property
    def id(self) -> str:
        from pathlib import Path

        return Path(self.testbed).stem if self.testbed else f"cluster-{self.existing}"


def _bring_up(spec_file: str) -> ClusterUnderTest:
    if os.geteuid() != 0:
        pytest.fail(f"--testbed {spec_file}: the local provider needs root", pytrace=False)
    from svclab.testbed.local.cluster import UpError
    from svclab.testbed.spec import SpecError

    try:
        handle = bring_up(spec_file, progress=lambda line: None, timeout=BRING_UP_TIMEOUT)
    except (SpecError, UpError) as exc:
        pytest.fail(f"--testbed: {exc}", pytrace=False)
    _brought_up.add(handle.name)
    return local_cluster(handle.info)


def tear_down_leftovers() -> None:
    """Safety net at session end: whatever this session brought up goes down."""
    for name in sorted(_brought_up):
        tear_down(name)
    _brought_up.clear()


def time_scale_for(kernel: str) -> float:
    """How much longer than on the host every wait may take on ``kernel``."""
    return UML_TIME_SCALE if kernel.startswith("uml") else 1.0


@pytest.fixture(scope="session")
def cluster_ref(request: pytest.FixtureRequest) -> ClusterRef:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def cluster(cluster_ref: ClusterRef,
            record_testsuite_property: Callable[[str, object], None]) -> Iterator[ClusterUnderTest]:
    if cluster_ref.existing is not None:
        try:
            info = read_cluster(cluster_ref.existing)
        except FileNotFoundError:
            pytest.fail(f"--cluster {cluster_ref.existing}: no such local cluster is up "
                        "(see `svclab list`)", pytrace=False)
        existing = local_cluster(info)
        record_testsuite_property(f"{cluster_ref.id}.kernel", existing.kernel)
        set_time_scale(time_scale_for(existing.kernel))
        try:
            yield existing
        finally:
            set_time_scale(1.0)
        return
    assert cluster_ref.testbed is not None
    under_test = _bring_up(cluster_ref.testbed)
    record_testsuite_property(f"{cluster_ref.id}.kernel", under_test.kernel)
    set_time_scale(time_scale_for(under_test.kernel))
    try:
        yield under_test
    finally:
        set_time_scale(1.0)
        tear_down(under_test.name)
        _brought_up.discard(under_test.name)


@pytest.fixture(scope="session")
def client(cluster: ClusterUnderTest) -> Iterator[Client]:
    api = Client(KubeConfig.from_file(str(cluster.kubeconfig)))
    yield api
    api.close()


@pytest.fixture
def namespace(client: Client) -> Iterator[str]:
    name = f"svclab-test-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name,
                                                labels={"svclab.dev/conformance": "true"})))
    yield name
    client.delete(Namespace, name)


@pytest.fixture
def node_host(cluster: ClusterUnderTest) -> Callable[[str], object]:
    return cluster.node_host
