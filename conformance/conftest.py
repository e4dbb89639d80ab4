"""Conformance suite configuration: which clusters to test, markers, fixtures.

Options:
  --testbed FILE       bring up the testbed of FILE for the session with its spec's
                       provider (repeatable; each is brought down afterwards, also
                       on failure); a ``kubeconfig`` spec connects to $KUBECONFIG
  --cluster NAME       test a cluster that is already up: a local one, else a kind
                       testbed brought up by ``svclab up`` (repeatable)
  --kubeconfig PATH    test an existing cluster as it is (proxy mode ``unknown``,
  --kube-context NAME  no node access); either option alone is enough
Without any, every conformance test is skipped with a reason. pytest-kind-ng,
installed with the dev extras, already defines ``--kubeconfig`` with the same
meaning ("use this cluster"); the suite then reads that option instead of
defining its own.

Each test may run for ``TEST_TIMEOUT`` seconds (pytest-timeout) unless it sets
its own ``@pytest.mark.timeout``: the project-wide 60 s is for unit tests, and a
conformance test's waits are stretched on slow kernels (see ``harness.waiting``).
Only the test's own call counts: a testbed's bring-up (a session fixture with
its own timeouts) is never cut short by the first test's budget.

Markers: ``proxy_mode("iptables", ...)`` runs a test only on clusters with one
of these proxy modes (a cluster tested as it is has mode ``unknown``: such a
test skips there, saying so; a ``--testbed`` spec with ``provider:
kubeconfig`` names the mode; an ``external`` proxy is tested as the mode its
``spec.proxy.rules`` names, else as ``unknown``); ``needs_proxy`` / ``needs_controllers`` skip when the
component does not run; feature markers (``nodes``, ``pods``, ``services``, ...)
select areas with ``-m``; ``fault_sample`` marks one ``disruption`` test per fault kind
(the slow UML guest of ``make test`` runs only those of the area).
``--neutral-share K/N`` runs only the K-th of N shares of the mode-neutral tests (no
``needs_proxy``; ``dual_stack`` tests are in every share): N testbeds with the same
API server and controllers judge them together (``make test``, ``svclab run``'s quick
profile).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from harness.cluster import UNKNOWN_PROXY_MODE, ClusterUnderTest
from harness.fixtures import (  # noqa: F401  (fixtures are found by name)
    client,
    cluster,
    cluster_ref,
    namespace,
    node_host,
)
from harness.providers import ClusterRef, tear_down_leftovers
from svclab.testbed.external import EXTERNAL

FEATURE_MARKERS = {
    "nodes": "node registration, labels, taints and pod CIDRs",
    "pods": "pod life cycle: IPs, readiness, graceful deletion",
    "services": "Service API semantics (ClusterIP, ports, default/kubernetes)",
    "endpoints": "the endpoints controller",
    "endpointslices": "the EndpointSlice controller",
    "mirroring": "the EndpointSlice mirroring controller",
    "traffic": "packets through the proxy (ClusterIP, NodePort, hairpin, UDP)",
    "session_affinity": "ClientIP session affinity",
    "traffic_policy": "internal/externalTrafficPolicy: Local",
    "disruption": "faults: components killed or frozen, rules and conntrack flushed, nodes cut off",
    "dual_stack": "IPv4/IPv6 dual stack: addresses per family, Service families, traffic per family",
}
TEST_TIMEOUT = 300
NO_CLUSTER_REASON = (
    "no cluster under test: pass --testbed clusters/iptables.yaml (brings "
    "one up and down), --cluster NAME (a local or kind cluster that is up) "
    "or --kubeconfig PATH (an existing cluster, tested as it is)"
)
KIND_PLUGIN = "pytest-kind-ng"  # defines --kubeconfig itself


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("svclab", "svclab conformance")
    group.addoption(
        "--testbed",
        action="append",
        default=[],
        metavar="FILE",
        help="testbed spec to bring up for the session (repeatable)",
    )
    group.addoption(
        "--cluster",
        action="append",
        default=[],
        metavar="NAME",
        help="name of a local or kind cluster that is already up (repeatable)",
    )
    if not pluginmanager.has_plugin(KIND_PLUGIN):
        group.addoption(
            "--kubeconfig", default=None, metavar="PATH", help="kubeconfig of an existing cluster to test as it is"
        )
    group.addoption(
        "--neutral-share",
        default=None,
        metavar="K/N",
        help="run only share K (0..N-1) of the mode-neutral tests (those without needs_proxy), "
        "so that N testbeds of one control plane judge them together; every needs_proxy test runs",
    )
    group.addoption(
        "--kube-context",
        default=None,
        metavar="NAME",
        help="with --kubeconfig (default $KUBECONFIG): the context to use",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "proxy_mode(*modes): run only with these proxy modes")
    config.addinivalue_line("markers", "needs_proxy: skip when no proxy runs in the cluster")
    config.addinivalue_line("markers", "needs_controllers: skip when our controllers do not run")
    config.addinivalue_line(
        "markers",
        "breadth: beyond upstream's official conformance tests; `svclab run`'s quick profile leaves them out",
    )
    config.addinivalue_line(
        "markers",
        "fault_sample: one disruption test per fault kind (kill, stop/continue, flush-rules, flush-conntrack, "
        "cut-off/heal); what make test's UML lane runs of the disruption area",
    )
    for name, text in FEATURE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _cluster_refs(config: pytest.Config) -> list[ClusterRef]:
    refs = [ClusterRef(testbed=path) for path in config.getoption("--testbed")] + [
        ClusterRef(existing=name) for name in config.getoption("--cluster")
    ]
    kubeconfig, context = config.getoption("--kubeconfig"), config.getoption("--kube-context")
    if kubeconfig is not None or context is not None:
        refs.append(ClusterRef(kubeconfig=kubeconfig, context=context))
    return refs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    refs = _cluster_refs(metafunc.config)
    if refs and "cluster_ref" in metafunc.fixturenames:
        metafunc.parametrize("cluster_ref", refs, indirect=True, scope="session", ids=[ref.id for ref in refs])


def _outside_the_share(config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """The mode-neutral tests another testbed's ``--neutral-share`` runs: a test (all its
    parameters) belongs to share crc32(module::function) mod N, the same on every testbed.
    Dual-stack tests are in every share: they judge only a dual-stack testbed (elsewhere
    they skip at once), and the share that drew them may be a single-stack one."""
    share = config.getoption("--neutral-share")
    if not share:
        return []
    k, _, n = share.partition("/")
    if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise pytest.UsageError(f"--neutral-share takes K/N with 0 <= K < N, got {share!r}")
    return [
        item
        for item in items
        if item.get_closest_marker("needs_proxy") is None
        and item.get_closest_marker("dual_stack") is None
        and zlib.crc32(item.nodeid.split("[")[0].encode()) % int(n) != int(k)
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    others = _outside_the_share(config, items)
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item not in others]
    for item in items:
        if item.path.is_relative_to(here):
            # The test's own time: bringing a testbed up (a session fixture, with
            # its own timeouts) must not eat the first test's budget or be cut short.
            own = item.get_closest_marker("timeout")
            seconds = own.args[0] if own is not None and own.args else TEST_TIMEOUT
            item.add_marker(pytest.mark.timeout(seconds, func_only=True), append=False)
        if item.path.is_relative_to(here) and item.get_closest_marker("flaky") is None:
            # End-to-end tests on a busy 2-core machine: one retry of a failed test
            # (pytest-rerunfailures; the rerun is shown in the report). A test that
            # fails twice fails the run.
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
    if _cluster_refs(config):
        return
    skip = pytest.mark.skip(reason=NO_CLUSTER_REASON)
    for item in items:
        if "cluster_ref" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _skip_by_cluster_markers(request: pytest.FixtureRequest) -> None:
    """Apply proxy_mode / needs_* markers once the cluster is known."""
    markers = {m.name for m in request.node.iter_markers()}
    if not markers & {"proxy_mode", "needs_proxy", "needs_controllers"}:
        return
    under_test: ClusterUnderTest = request.getfixturevalue("cluster")
    mode = request.node.get_closest_marker("proxy_mode")
    if mode is not None and under_test.proxy_mode == UNKNOWN_PROXY_MODE and under_test.requested_proxy_mode == EXTERNAL:
        pytest.skip(
            f"proxy of cluster {under_test.name} is external, its mode unknown (test is for "
            f"{', '.join(mode.args)}; spec.proxy.rules names the rules dump to read)"
        )
    if mode is not None and under_test.proxy_mode == UNKNOWN_PROXY_MODE:
        pytest.skip(
            f"proxy mode of cluster {under_test.name} unknown (test is for "
            f"{', '.join(mode.args)}; a --testbed spec with provider kubeconfig "
            "names the mode)"
        )
    if mode is not None and under_test.proxy_mode not in mode.args:
        pytest.skip(f"proxy mode {under_test.proxy_mode} (test is for {', '.join(mode.args)})")
    if "needs_proxy" in markers and not under_test.has_proxy:
        pytest.skip(f"no proxy runs in cluster {under_test.name}")
    if "needs_controllers" in markers and not under_test.has_controllers:
        pytest.skip(f"our controllers do not run in cluster {under_test.name}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tear_down_leftovers()
