"""The process shell end to end over fakes: FakeClient -> informers -> Proxier -> FakeIptables.

Address plan: see ``builders.py``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node

from svclab.kube.testing import FakeClient
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.command import add_arguments
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.options import NodeOptions
from svclab.proxy.service import serve

from .builders import CLUSTER_CIDR, TEST_NODE, endpoint, endpoint_slice, service, until


async def test_serve_programs_rules_from_the_api() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--hostname-override", TEST_NODE, "--min-sync-period", "0"])
    client = FakeClient()
    client.seed(
        Node(metadata=ObjectMeta(name=TEST_NODE)),
        service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)),
        endpoint_slice("ns1", "svc1", endpoint("10.180.0.1")),
    )
    fake = FakeIptables()
    ran: list[Sequence[str]] = []

    def conntrack(cmd: Sequence[str]) -> int:
        ran.append(cmd)
        return 0

    backend = IptablesProxier(fake, PlanOptions(node=NodeOptions(cluster_cidr=CLUSTER_CIDR)))
    task = asyncio.create_task(
        serve(args, client=client, backend=backend, conntrack_runner=conntrack, serve_http=False)
    )
    try:
        assert await until(lambda: "KUBE-SVC-XPGD46QRK7WJZT7O" in fake.tables["nat"])
        await client.create(service("ns2", "svc2", "172.30.0.42", ("p80", 80, 0)))
        assert await until(lambda: NetfilterTracer(fake)("10.0.0.2", "172.30.0.42", 80).verdict == "REJECT")
        await client.delete(type(endpoint_slice("ns1", "svc1")), "svc1-1", namespace="ns1")
        assert await until(lambda: "KUBE-SVC-XPGD46QRK7WJZT7O" not in fake.tables["nat"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_services_and_slices_are_watched_without_other_proxies_or_headless_ones() -> None:
    # Upstream kube-proxy's informer selector: a Service labelled for another proxy
    # (service-proxy-name) or headless gets no rules, even with a ClusterIP.
    from svclab.apimachinery.labels import parse_label_selector
    from svclab.proxy.healthz import ProxyHealth
    from svclab.proxy.metrics import ProxyMetrics
    from svclab.proxy.provider import Proxier, ProxierOptions
    from svclab.proxy.service import PROXY_LABEL_SELECTOR, _informers

    selector = parse_label_selector(PROXY_LABEL_SELECTOR)
    assert selector.matches({"app": "web"})
    assert not selector.matches({"service.kubernetes.io/service-proxy-name": "foo-bar"})
    assert not selector.matches({"service.kubernetes.io/headless": ""})
    backend = IptablesProxier(FakeIptables(), PlanOptions(node=NodeOptions(cluster_cidr=CLUSTER_CIDR)))
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, min_sync_period=0.0, sync_period=30.0))
    informers = _informers(FakeClient(), TEST_NODE, proxier, ProxyMetrics(), ProxyHealth(timeout=30.0))
    by_kind = {informer.resource.__name__: informer.options.label_selector for informer in informers}
    assert by_kind == {"Service": PROXY_LABEL_SELECTOR, "EndpointSlice": PROXY_LABEL_SELECTOR, "Node": None}


async def test_metrics_address_answers_proxy_mode_and_healthz_address_lastupdated() -> None:
    # Upstream's e2e "should check kube-proxy urls": /proxyMode on the status
    # (metrics) port, /healthz with lastUpdated on the healthz port.
    from aiohttp.test_utils import TestClient, TestServer

    from svclab.proxy.healthz import ProxyHealth
    from svclab.proxy.metrics import ProxyMetrics
    from svclab.proxy.service import _healthz_app, _metrics_app

    async with TestClient(TestServer(_metrics_app(ProxyMetrics(), "nftables"))) as status_port:
        answer = await status_port.get("/proxyMode")
        assert (answer.status, await answer.text()) == (200, "nftables")
        assert (await status_port.get("/metrics")).status == 200
    async with TestClient(TestServer(_healthz_app(ProxyHealth(timeout=30.0)))) as healthz_port:
        answer = await healthz_port.get("/healthz")
        assert answer.status == 200 and "lastUpdated" in await answer.text()


async def test_debug_backends_serves_what_a_proxy_mode_keeps_in_itself_and_404_elsewhere() -> None:
    # svclab explain reads the userspace proxy's sockets and round robin here.
    from aiohttp.test_utils import TestClient, TestServer

    from svclab.proxy.metrics import ProxyMetrics
    from svclab.proxy.service import _metrics_app

    class Described:
        def debug_state(self) -> list[dict[str, object]]:
            return [{"service": "ns1/svc1:p80", "proxyPort": 40001, "endpoints": ["10.180.0.1:80"]}]

    async with TestClient(TestServer(_metrics_app(ProxyMetrics(), "userspace", Described()))) as status_port:  # type: ignore[arg-type]
        answer = await status_port.get("/debug/backends")
        assert answer.status == 200
        assert await answer.json() == [{"service": "ns1/svc1:p80", "proxyPort": 40001, "endpoints": ["10.180.0.1:80"]}]
    async with TestClient(TestServer(_metrics_app(ProxyMetrics(), "iptables", object()))) as status_port:  # type: ignore[arg-type]
        assert (await status_port.get("/debug/backends")).status == 404
