"""pytest fixtures of the conformance suite (imported by ``conformance/conftest.py``).

* ``cluster`` (session, one instance per ``ClusterRef``): a ``ClusterUnderTest``.
  A ref names one of
  - ``--testbed FILE``: brought up on first use by the spec's provider and torn
    down when the session moves to the next one or ends, also when a test
    failed or the run was interrupted, by the spec's provider as ``svclab up``
    does (skipped with the reason when this machine cannot run it: no root or
    UML for ``local``, no Docker, kind or kubectl for ``kind``); ``kubeconfig``:
    nothing is brought up, the cluster of ``$KUBECONFIG`` is connected with the
    spec's name, proxy mode and Service subnet;
  - ``--cluster NAME``: a local cluster that is up, else a kind testbed
    brought up by ``svclab up``;
  - ``--kubeconfig PATH`` / ``--kube-context NAME``: an existing cluster,
    tested as it is (proxy mode ``unknown``, no node access).
  The JUnit report gets ``<id>.kernel`` (``host`` / ``uml <version>``) as a
  test-suite property. While a cluster is under test, ``wait_for`` deadlines
  are stretched by ``time_scale_for(kernel)`` (3x in a UML guest, which has
  one CPU).
* ``client``: a lightkube ``Client`` for the cluster (its kubeconfig context).
* ``namespace``: a fresh Namespace per test, deleted afterwards.
* ``node_host``: ``node_host(node_name)`` -> testinfra Host on that node.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from harness.cluster import ClusterUnderTest
from harness.providers import ClusterRef, open_cluster
from harness.waiting import set_time_scale

__all__ = ["client", "cluster", "cluster_ref", "namespace", "node_host", "time_scale_for"]

UML_TIME_SCALE = 3.0  # a one-CPU UML guest runs the same work about this much slower


def time_scale_for(kernel: str) -> float:
    """How much longer than on the host every wait may take on ``kernel``."""
    return UML_TIME_SCALE if kernel.startswith("uml") else 1.0


@pytest.fixture(scope="session")
def cluster_ref(request: pytest.FixtureRequest) -> ClusterRef:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def cluster(
    cluster_ref: ClusterRef, record_testsuite_property: Callable[[str, object], None]
) -> Iterator[ClusterUnderTest]:
    with open_cluster(cluster_ref) as under_test:
        record_testsuite_property(f"{cluster_ref.id}.kernel", under_test.kernel)
        set_time_scale(time_scale_for(under_test.kernel))
        try:
            yield under_test
        finally:
            set_time_scale(1.0)


@pytest.fixture(scope="session")
def client(cluster: ClusterUnderTest) -> Iterator[Client]:
    config = KubeConfig.from_file(str(cluster.kubeconfig))
    api = Client(config.get(context_name=cluster.context) if cluster.context else config)
    yield api
    api.close()


@pytest.fixture
def namespace(client: Client) -> Iterator[str]:
    name = f"svclab-test-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name, labels={"svclab.dev/conformance": "true"})))
    yield name
    client.delete(Namespace, name)


@pytest.fixture
def node_host(cluster: ClusterUnderTest) -> Callable[[str], object]:
    return cluster.node_host
