"""The large-cluster measure kept across partial syncs (issue 16): the endpoint total is adjusted
by the changed ports only, and must always equal a recount of every Service's endpoints.

Address plan: see ``builders.py``; svc1 endpoints 10.0.x.y, svc2 10.1.x.y,
svc3 203.0.113.0/24, svc4 (endpoints without a Service) 10.4.x.y. Each of
svc1 and svc2 has just under half of upstream's 1,000-endpoint threshold.
"""

from __future__ import annotations

from typing import Any

from svclab.proxy.iptables.plan import LARGE_CLUSTER_ENDPOINTS_THRESHOLD
from svclab.proxy.options import NodeOptions

from ..builders import endpoint, endpoint_slice, service
from ..helpers import iptables_proxier
from .test_upstream_cases import many_endpoints

HALF = LARGE_CLUSTER_ENDPOINTS_THRESHOLD // 2 - 1
SERVICES = {
    "svc1": service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)),
    "svc2": service("ns2", "svc2", "172.30.0.42", ("p8080", 8080, 0)),
    "svc3": service("ns3", "svc3", "172.30.0.43", ("p8081", 8081, 0)),
}


def written_dnat(backend: Any) -> list[str]:
    return [ln for ln in backend.last_restore.splitlines() if ln.startswith("-A KUBE-SEP-") and "-j DNAT" in ln]


async def test_endpoint_total_follows_partial_syncs_both_ways() -> None:
    proxier, backend, _ = iptables_proxier(node=NodeOptions(cluster_cidr="10.0.0.0/8"))
    for svc in SERVICES.values():
        proxier.on_service(None, svc)
    proxier.on_endpoint_slice(many_endpoints("ns1", "svc1", ("p80", 80), 0, HALF))
    proxier.on_endpoint_slice(many_endpoints("ns2", "svc2", ("p8080", 8080), 1, HALF))
    await proxier.sync()
    assert (backend.endpoint_total, backend.large_cluster) == (2 * HALF, False)

    svc3 = [endpoint(f"203.0.113.{i}") for i in (4, 8, 12)]
    proxier.on_endpoint_slice(endpoint_slice("ns3", "svc3", *svc3, port=("p8081", 8081)))
    await proxier.sync()
    assert not backend.last_sync_full
    assert (backend.endpoint_total, backend.large_cluster) == (2 * HALF + 3, True)

    # endpoints of a port no Service has do not count (upstream sums over its service map)
    proxier.on_endpoint_slice(many_endpoints("ns4", "svc4", ("p80", 80), 4, 50))
    await proxier.sync()
    assert (backend.endpoint_total, backend.large_cluster) == (2 * HALF + 3, True)

    # deleting a Service takes its endpoints out of the total: below the threshold again
    proxier.on_service(SERVICES["svc1"], None)
    await proxier.sync()
    assert not backend.last_sync_full
    assert (backend.endpoint_total, backend.large_cluster) == (HALF + 3, False)
    proxier.on_endpoint_slice(endpoint_slice("ns3", "svc3", *svc3[:2], port=("p8081", 8081)))
    await proxier.sync()
    assert backend.endpoint_total == HALF + 2
    assert len(written_dnat(backend)) == 2 and all("--comment" in ln for ln in written_dnat(backend))

    # the Service comes back: its endpoints count again; a full sync recounts to the same total
    proxier.on_service(None, SERVICES["svc1"])
    await proxier.sync()
    # exactly 1,000: not above upstream's threshold
    assert (backend.endpoint_total, backend.large_cluster) == (2 * HALF + 2, False)
    assert 2 * HALF + 2 == LARGE_CLUSTER_ENDPOINTS_THRESHOLD
    backend.need_full_sync = True
    await proxier.sync()
    assert backend.last_sync_full and backend.endpoint_total == 2 * HALF + 2
