"""Real kernel: the portal rules load, steer a ClusterIP to the proxy, and refuse endpoint-less Services.

Runs only as root, inside a throwaway network namespace ``svclab-ustest-<pid>``
and a pod namespace ``svclab-ustest-<pid>-pod`` (10.99.1.2, veth to the node's
10.99.1.1), both deleted afterwards, also on failure; the scenario itself runs in a child
process inside it (``_netns_scenario.py`` has the address plan).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables-restore"),
        reason="needs root, iproute2 and iptables",
    ),
]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"svclab-ustest-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
            ["ip", "link", "set", "eth0p", "up"],
            ["ip", "addr", "add", "10.99.0.2/24", "dev", "eth0"],
            ["ip", "link", "set", "eth0", "up"],
            ["ip", "route", "add", "172.30.0.0/16", "dev", "eth0"],
        ):
            subprocess.run(["ip", "-n", name, *cmd[1:]], check=True)
        pod = f"{name}-pod"
        subprocess.run(["ip", "netns", "add", pod], check=True)
        for cmd in (
            ["link", "add", "veth-pod", "type", "veth", "peer", "name", "eth0", "netns", pod],
            ["addr", "add", "10.99.1.1/24", "dev", "veth-pod"],
            ["link", "set", "veth-pod", "up"],
        ):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        for cmd in (
            ["link", "set", "lo", "up"],
            ["addr", "add", "10.99.1.2/24", "dev", "eth0"],
            ["link", "set", "eth0", "up"],
            ["route", "add", "default", "via", "10.99.1.1"],
        ):
            subprocess.run(["ip", "-n", pod, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", f"{name}-pod"], check=False)
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.timeout(30)
def test_portals_redirect_and_reject_in_a_namespace(netns: str) -> None:
    run = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.proxy.userspace._netns_scenario", f"{netns}-pod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=25,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["echo"] == "through the portal"
    assert result["empty"] == "refused"
    assert result["pod_tcp"] == "from the pod" and result["pod_udp"] == "dns?"
    assert result["pod_empty"] == "refused"
    assert result["partial"] and result["swapped"] == ["refused", "echo"]
    assert "-A KUBE-PORTALS-HOST" in result["saved"] and "-A KUBE-NODEPORT-HOST" in result["saved"]
    assert result["after_cleanup"] == []


@pytest.mark.skipif(not shutil.which("ip6tables-restore"), reason="no ip6tables")
async def test_ipv6_portals_load_into_ip6tables(netns: str) -> None:
    """The IPv6 userspace proxier's portals (the overall scenario's IPv6 twin) load into ip6tables;
    its proxy sockets are IPv6-only on ::1, here in the test's own namespace (ports the kernel picks)."""
    from svclab.proxy.adapters.iptables import SubprocessIptables
    from svclab.proxy.provider import Proxier, ProxierOptions
    from svclab.proxy.service_port import IPFamily
    from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

    from ..builders import TEST_NODE, TEST_NODE_OPTIONS_V6
    from ..helpers import ManualClock, load_overall

    executor = SubprocessIptables(prefix=("ip", "netns", "exec", netns), binary="ip6tables")
    options = UserspaceOptions(node=TEST_NODE_OPTIONS_V6, listen_ip="::1", claim_node_ports=False, physdev=False)
    backend = UserspaceProxier(executor, options)
    try:
        proxier = Proxier(backend, ProxierOptions(TEST_NODE, family=IPFamily.IPV6, clock=ManualClock()))
        load_overall(proxier, IPFamily.IPV6)
        await proxier.sync()
        saved = subprocess.run(
            ["ip", "netns", "exec", netns, "ip6tables-save", "-t", "nat"], capture_output=True, text=True, check=True
        ).stdout
        portal = [ln for ln in saved.splitlines() if "-d fd00:172:30::41/128" in ln and "KUBE-PORTALS-CONTAINER" in ln]
        assert portal and "-j DNAT --to-destination [::1]:" in portal[0]
        listeners = [getattr(s.proxy_socket, "listener", None) or s.proxy_socket.sock for s in backend.served.values()]  # type: ignore[union-attr]
        assert listeners and all(sock.family == socket.AF_INET6 for sock in listeners)
        assert all(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1 for sock in listeners)
    finally:
        backend.close_sockets()


_SIDE_BY_SIDE = """
import socket, sys
from svclab.proxy.service_port import Protocol
from svclab.proxy.userspace.proxier import _bind
for protocol in (Protocol.TCP, Protocol.UDP):
    v4 = _bind(protocol, "0.0.0.0", 0)
    v6 = _bind(protocol, "::", v4.getsockname()[1])
    assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
print("both")
"""


def test_ipv4_and_ipv6_proxiers_hold_the_same_port_side_by_side(netns: str) -> None:
    """A dual-stack node's two userspace proxiers each claim a NodePort on their family's wildcard
    address (in the throwaway namespace): IPv6-only sockets let both hold the same port number."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "implementation")}
    run = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _SIDE_BY_SIDE],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "both"), run.stderr
