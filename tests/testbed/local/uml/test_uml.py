"""Real IPVS inside a User-Mode Linux guest, programmed by the ipvs proxier (root; UML).

The host kernel has no IPVS, so the test boots a guest (``run_in_uml``) that
runs this very file with ``--guest OUT``. Inside the guest (its own kernel;
nothing here touches the host's network):

  guest root namespace ("node"): veth to each namespace below, ip_forward on,
      the ipvs proxier (its netlink, ipset and iptables adapters) programs IPVS, ipsets, iptables-legacy
  svclab-b1  eth0 10.99.1.2/24 gw 10.99.1.1   http.server :8080 answering "b1"
  svclab-b2  eth0 10.99.2.2/24 gw 10.99.2.1   http.server :8080 answering "b2"
  svclab-cl  eth0 10.99.3.2/24 gw 10.99.3.1   the client
  Service default/web:http  ClusterIP 10.96.0.10:80 -> 10.99.1.2:8080, 10.99.2.2:8080

The guest writes ``result.json`` into the shared directory; the host asserts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[4]
VIP, PORT = "10.96.0.10", 80
BACKENDS = {"svclab-b1": "10.99.1", "svclab-b2": "10.99.2"}
CLIENT = ("svclab-cl", "10.99.3")


# ---------------------------------------------------------------- host side
def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    from svclab.testbed.local.uml import can_run_uml

    return can_run_uml()


@pytest.mark.timeout(120)
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_ipvs_round_robin_in_uml_guest(tmp_path: Path) -> None:
    from svclab.testbed.local.uml import IPVS_MODULES, run_in_uml

    shared = tmp_path / "uml"
    result = run_in_uml(
        [sys.executable, __file__, "--guest", str(shared)],
        workdir=REPO,
        modules=IPVS_MODULES,
        memory="512M",
        timeout=90,
        shared_dir=shared,
        # the tree under test, also where the installed svclab is another checkout's
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO / "implementation"),
        },
    )
    report = shared / "result.json"
    assert result.exit_code == 0 and report.exists(), (
        f"guest failed (exit {result.exit_code}):\n{result.output[-3000:]}"
    )
    data = json.loads(report.read_text())
    print(f"UML boot {result.boot_seconds:.2f}s, total {result.total_seconds:.2f}s, guest {data['timings']}")
    assert data["responses"] == ["b1", "b2", "b1", "b2"] or data["responses"] == ["b2", "b1", "b2", "b1"]
    assert data["real_servers"] == {"10.99.1.2:8080": 1, "10.99.2.2:8080": 1}
    assert data["dummy_addresses"] == [VIP]
    assert "KUBE-CLUSTER-IP" in data["ipsets"]
    assert data["after_removal"] == ["b1", "b1"]
    assert data["no_endpoints"] == "refused"
    assert data["resync_ops"] == []


# --------------------------------------------------------------- guest side
def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _build_network() -> None:
    """veth per namespace, with in-process netlink (each ``ip`` process costs ~0.3 s in UML)."""
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    from svclab.testbed.local.nsexec import in_netns

    with IPRoute() as ipr:
        for ns, net in [*BACKENDS.items(), CLIENT]:
            host_if, peer = f"v-{ns[-2:]}", f"p-{ns[-2:]}"
            _sh("ip", "netns", "add", ns)
            ipr.link("add", ifname=host_if, kind="veth", peer=peer)
            host_index, peer_index = ipr.link_lookup(ifname=host_if)[0], ipr.link_lookup(ifname=peer)[0]
            ipr.addr("add", index=host_index, address=f"{net}.1", prefixlen=24)
            ipr.link("set", index=host_index, state="up")
            with open(f"/run/netns/{ns}") as ns_file:
                ipr.link("set", index=peer_index, net_ns_fd=ns_file.fileno())
            with in_netns(ns):
                inner = IPRoute()
            with inner:
                index = inner.link_lookup(ifname=peer)[0]
                inner.link("set", index=index, ifname="eth0", state="up")
                inner.link("set", index=inner.link_lookup(ifname="lo")[0], state="up")
                inner.addr("add", index=index, address=f"{net}.2", prefixlen=24)
                inner.route("add", dst="0.0.0.0/0", gateway=f"{net}.1")


def _start_backends(root: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for ns in BACKENDS:
        docroot = root / ns
        docroot.mkdir(parents=True)
        (docroot / "name").write_text(ns.removeprefix("svclab-"))
        procs.append(
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    sys.executable,
                    "-m",
                    "http.server",
                    "8080",
                    "--bind",
                    "0.0.0.0",
                    "--directory",
                    str(docroot),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def _get(path: str = "/name") -> str:
    from svclab.testbed.local.nsexec import socket_in_netns

    sock = socket_in_netns(CLIENT[0])
    sock.settimeout(5)
    try:
        sock.connect((VIP, PORT))
    except ConnectionRefusedError:
        return "refused"
    with sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: web\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()


def _wait_for_backends() -> None:
    from svclab.testbed.local.nsexec import socket_in_netns

    deadline = time.monotonic() + 20
    for net in BACKENDS.values():
        while True:
            with socket_in_netns(CLIENT[0]) as sock:
                if sock.connect_ex((f"{net}.2", 8080)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"backend {net}.2:8080 did not start")
            time.sleep(0.1)


def _state(backends: list[str]) -> Any:
    from svclab.proxy.endpoint import Endpoint
    from svclab.proxy.provider import ProxyState
    from svclab.proxy.service_port import Protocol, ServiceName, ServicePort, ServicePortName

    name = ServicePortName(ServiceName("default", "web"), "http", Protocol.TCP)
    port = ServicePort(name=name, cluster_ip=VIP, port=PORT, protocol=Protocol.TCP)
    eps = tuple(Endpoint(f"{BACKENDS[b]}.2", 8080) for b in backends)
    return ProxyState({name: port}, {name: eps}, "uml-node", {}, frozenset({name}))


def guest_main(out: Path) -> int:
    import argparse

    from svclab.proxy.adapters.ipvs_netlink import VirtualServer
    from svclab.proxy.ipvs.mode import build
    from svclab.proxy.options import NodeOptions
    from svclab.proxy.service_port import Protocol

    timings: dict[str, float] = {}
    started = time.monotonic()
    _build_network()
    procs = _start_backends(Path("/tmp/svclab-uml-www"))
    proxier = build(NodeOptions(cluster_cidr="10.99.0.0/16"), argparse.Namespace())  # as svclab proxy builds it
    executor = proxier.ipvs
    t0 = time.monotonic()
    proxier.sync_rules(_state(["svclab-b1", "svclab-b2"]))
    timings["first_sync"] = round(time.monotonic() - t0, 3)
    _wait_for_backends()
    responses = [_get() for _ in range(4)]
    vs = VirtualServer(VIP, PORT, Protocol.TCP)
    servers = {str(s.server): s.server.weight for s in executor.list_real_servers(vs)}
    t0 = time.monotonic()
    proxier.sync_rules(_state(["svclab-b1"]))
    timings["partial_sync"] = round(time.monotonic() - t0, 3)
    after = [_get() for _ in range(2)]
    fresh = build(NodeOptions(cluster_cidr="10.99.0.0/16"), argparse.Namespace())
    fresh.sync_rules(_state(["svclab-b1"]))  # a restarted proxy reads the kernel state back
    resync_ops = [str(op) for op in fresh.last_ops]
    proxier.sync_rules(_state([]))
    refused = _get()
    result = {
        "responses": responses,
        "real_servers": servers,
        "after_removal": after,
        "no_endpoints": refused,
        "resync_ops": resync_ops,
        "dummy_addresses": sorted(executor.device_addresses("kube-ipvs0")),
        "ipsets": subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True).stdout.split(),
        "iptables": getattr(proxier.iptables, "binary", ""),
        "timings": timings,
    }
    proxier.cleanup()
    for proc in procs:
        proc.kill()
    timings["guest_total"] = round(time.monotonic() - started, 3)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--guest"]:
    sys.path.insert(0, str(REPO / "implementation"))
    sys.exit(guest_main(Path(sys.argv[2])))
