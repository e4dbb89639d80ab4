"""Rule convergence: every node's rules follow the API within the sync period.

Plan: Service ``web`` (80 -> 8080, port name ``http``) selecting ``app=backend``
goes through four states - created without endpoints (REJECT), two backends
Ready, one backend deleted, Service deleted - and after each change every
node's rules (``iptables-save`` / ``nft list table ip kube-proxy`` / ``ipvsadm-save -n``, read with
testinfra) must match the desired state computed with ``svclab.proxy``'s
naming functions (see ``harness.rules``) within the sync period. Measured
times go to $SVCLAB_CONVERGENCE_JSON when set.

(The proxy restart test moved to the disruption area, ``test_disruption_proxy.py``.)
"""

from __future__ import annotations

import time

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.rules import RULE_MODES, DesiredPort, converged, service_absent, wait_converged
from harness.traffic import (
    HTTP_PORT,
    create_backends,
    create_service,
    delete_pods,
    pod_ips,
    wait_ready,
)

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
SYNC_PERIOD = 30.0  # the testbeds' syncPeriod: the bound for every convergence


def _desired(namespace: str, vip: str, addresses: list[str]) -> list[DesiredPort]:
    return [DesiredPort(namespace, "web", "http", "TCP", vip, 80, tuple((ip, HTTP_PORT) for ip in sorted(addresses)))]


def _converge(cluster: ClusterUnderTest, want: list[DesiredPort], what: str, since: float) -> float:
    return wait_converged(cluster, lambda rules: converged(rules, want), what=what, timeout=SYNC_PERIOD, since=since)


@pytest.mark.proxy_mode(*RULE_MODES)
def test_rules_follow_service_and_endpoint_changes_on_every_node(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    started = time.monotonic()
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    _converge(cluster, _desired(namespace, vip, []), "service created, no endpoints", started)

    backends = create_backends(client, cluster, namespace, 2)
    pods = wait_ready(client, namespace, backends)
    ready_at = time.monotonic()
    ips = pod_ips(pods)
    _converge(cluster, _desired(namespace, vip, list(ips.values())), "two endpoints ready", ready_at)

    deleted_at = time.monotonic()
    delete_pods(client, namespace, backends[:1])
    _converge(cluster, _desired(namespace, vip, [ips[backends[1]]]), "one endpoint deleted", deleted_at)

    gone_at = time.monotonic()
    client.delete(Service, "web", namespace=namespace)
    want_gone = _desired(namespace, vip, list(ips.values()))
    wait_converged(
        cluster,
        lambda rules: service_absent(rules, want_gone),
        what="service deleted",
        timeout=SYNC_PERIOD,
        since=gone_at,
    )
