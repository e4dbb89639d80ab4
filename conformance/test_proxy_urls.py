"""The proxy's own HTTP endpoints on every node.

Upstream e2e test "Networking should check kube-proxy urls"
(test/e2e/network/networking.go): from the node's network, ``/healthz`` on the
healthz port (10256) answers 200 with a body naming ``lastUpdated``, and
``/proxyMode`` on the status port (10249) answers 200. Here the mode it names
must also be the cluster's proxy mode when the testbed says which. Needs node
access (a cluster tested as it is through a kubeconfig skips, saying why).
"""

from __future__ import annotations

import pytest

from harness.cluster import UNKNOWN_PROXY_MODE, ClusterUnderTest
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.breadth]

HEALTHZ_PORT = 10256  # upstream ports.ProxyHealthzPort
STATUS_PORT = 10249  # upstream ports.ProxyStatusPort


def _get(cluster: ClusterUnderTest, node: str, port: int, path: str) -> tuple[str, str]:
    """(HTTP status code, body) of a GET from the node's own network namespace."""
    script = f"curl -s -m 5 -w '\\n%{{http_code}}' http://127.0.0.1:{port}{path}"
    result = cluster.exec_on_node(node, ["/bin/sh", "-c", script])
    body, _, code = result.stdout.rpartition("\n")
    return code.strip(), body


def test_healthz_and_proxy_mode_answer_on_every_node(cluster: ClusterUnderTest) -> None:
    for node in cluster.nodes:
        code, body = wait_for(
            lambda node=node: (answer := _get(cluster, node.name, HEALTHZ_PORT, "/healthz"))[0] == "200" and answer,
            what=f"/healthz on {node.name}",
        )
        assert "lastUpdated" in body, body
        code, mode = _get(cluster, node.name, STATUS_PORT, "/proxyMode")
        assert code == "200", (node.name, code, mode)
        if cluster.proxy_mode != UNKNOWN_PROXY_MODE:
            assert mode.strip() == cluster.proxy_mode, (node.name, mode)
