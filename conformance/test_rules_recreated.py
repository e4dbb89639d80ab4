"""networking.go "should recreate its iptables rules if they are deleted".

Address plan: three netexec backends (HTTP 8080) on the workers behind
Service ``iptables-flush-test`` (80 -> 8080); a client pod on worker W2, the
node whose rules go.

Upstream dumps a node's rules with ``iptables-save`` and, in every table,
deletes each rule of a non-``KUBE-`` chain that jumps to a ``KUBE-`` chain,
then flushes and deletes every ``KUBE-`` chain: the proxy's own rules are gone
while everything else stays (unlike ``svclab fault flush-rules``, which
empties whole tables). The proxy must notice and write them again: every
backend answers through the ClusterIP from the node's pod and from the node
itself, and (where svclab reads the mode's rules) the node's rules name all
three endpoints. The nftables mode keeps nothing in iptables; there the
counterpart is deleting its ``kube-proxy`` table. (Upstream's second check,
kubelet's ``KUBE-IPTABLES-HINT`` chain, is kubelet's, not the proxy's: the
local node agent writes no iptables rules.)

The deadline is the disruption area's (``RECOVERY_LIMIT``, 10 s), well
below the testbeds' 30 s sync period: a proxy that only repairs at its
periodic full sync fails. The figure: deletion -> every backend answers.
"""

from __future__ import annotations

import sys
import time

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.disruption import RECOVERY_WAIT, assert_recovered
from harness.from_node import node_http_get_many
from harness.rules import RULE_MODES, DesiredPort, converged, read_rules
from harness.traffic import (
    HTTP_PORT,
    collect_hostnames,
    create_backends,
    create_client,
    create_service,
    pod_ips,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.disruption, pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

SERVICE = "iptables-flush-test"
WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]

# Run on the node: upstream's deletion, from one iptables-save dump. Each command
# may fail (the proxy can repair between two of them), as upstream's `|| true`.
DELETE_KUBE_CHAINS = """
import shlex, subprocess, sys
iptables = sys.argv[1]
dump = subprocess.run([iptables + "-save"], capture_output=True, text=True, check=True).stdout
rules, chains, table = [], [], ""
for line in dump.splitlines():
    if line.startswith("*"):
        table = line[1:]
    elif table and line.startswith("-A ") and not line.startswith("-A KUBE-") and "-j KUBE-" in line:
        rules.append([iptables, "-w", "-t", table, "-D", *shlex.split(line[3:])])
    elif table and line.startswith(":KUBE-"):
        chain = line.split()[0][1:]
        rules.append([iptables, "-w", "-t", table, "-F", chain])
        chains.append([iptables, "-w", "-t", table, "-X", chain])
for argv in rules + chains:
    subprocess.run(argv, capture_output=True)
print(len(chains))
"""


def _delete_proxy_rules(cluster: ClusterUnderTest, node: str) -> None:
    if cluster.provider != "local":
        pytest.skip("deleting a node's rules runs a Python program on the node (local provider)")
    if cluster.proxy_mode == "nftables":
        cluster.exec_on_node(node, ["nft", "delete", "table", "ip", "kube-proxy"]).check()
        return
    iptables = "iptables-legacy" if cluster.kernel.startswith("uml") else "iptables"
    result = cluster.exec_on_node(node, [sys.executable, "-c", DELETE_KUBE_CHAINS, iptables]).check()
    assert int(result.stdout) > 0, f"no KUBE-* chains on {node} to delete"


def test_kube_chains_deleted_on_a_node_come_back(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    workers = worker_nodes(cluster)
    if not workers:
        pytest.skip("the cluster has no worker node")
    node = workers[-1]
    backends = create_backends(client, cluster, namespace, 3)
    vip = create_service(client, SERVICE, namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, node)
    addresses = sorted(pod_ips(wait_ready(client, namespace, backends)).values())
    target = url(vip, 80)
    collect_hostnames(cluster, namespace, pod, target, backends)

    _delete_proxy_rules(cluster, node)
    deleted_at = time.monotonic()
    if cluster.proxy_mode in RULE_MODES:
        want = [DesiredPort(namespace, SERVICE, "http", "TCP", vip, 80, tuple((ip, HTTP_PORT) for ip in addresses))]
        wait_for(lambda: converged(read_rules(cluster, node), want), timeout=RECOVERY_WAIT, what=f"{node}'s rules back")
    seen = collect_hostnames(cluster, namespace, pod, target, backends, timeout=RECOVERY_WAIT)
    assert set(seen) - {""} <= set(backends), seen
    from_node: set[str] = set()

    def node_reaches_all() -> bool:
        from_node.update(node_http_get_many(cluster, node, target, 10))
        return set(backends) <= from_node

    wait_for(node_reaches_all, timeout=RECOVERY_WAIT, what=f"{target} from node {node}")
    assert_recovered(cluster, "KUBE-* chains deleted on a node: every backend answers again", deleted_at)
