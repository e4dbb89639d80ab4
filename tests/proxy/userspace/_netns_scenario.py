"""Runs inside a throwaway namespace (see test_kernel.py): real rules, real sockets, real traffic.

The namespace has ``lo`` and a veth ``eth0`` with the node IP 10.99.0.2.
An echo server listens on 10.99.0.2:9000; Service ``ns1/echo`` (ClusterIP
172.30.0.50:80) points at it, Service ``ns1/empty`` (172.30.0.51:80) has no
endpoints. From the node itself the ClusterIP goes through
KUBE-PORTALS-HOST (DNAT to the proxy port); from the pod namespace (argv[1])
through KUBE-PORTALS-CONTAINER (REDIRECT), TCP and UDP (``ns1/dns``,
172.30.0.53:53, echoed by a UDP server on 10.99.0.2:9053). Prints a JSON verdict.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from tests.proxy.builders import endpoint, endpoint_slice, service

from svclab.proxy.adapters.iptables import SubprocessIptables
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

NODE_IP = "10.99.0.2"
POD_CLIENT = """
import socket, sys
def tcp(ip, data):
    try:
        with socket.create_connection((ip, 80), timeout=2) as s:
            s.sendall(data); s.shutdown(socket.SHUT_WR); return s.makefile("rb").read().decode()
    except ConnectionRefusedError:
        return "refused"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.connect(("172.30.0.53", 53))
u.send(b"dns?")
print(tcp("172.30.0.50", b"from the pod")); print(tcp("172.30.0.51", b"x")); print(u.recv(100).decode())
"""


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


async def from_pod(pod: str) -> list[str]:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", pod, sys.executable, "-c", POD_CLIENT, stdout=subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    return stdout.decode().splitlines()


async def _answer(ip: str) -> str:
    """What a TCP client of ``ip:80`` gets: the echo, or refused."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, 80), 1)
    except ConnectionRefusedError:
        return "refused"
    writer.write(b"echo")
    writer.write_eof()
    data = (await asyncio.wait_for(reader.read(), 2)).decode()
    writer.close()
    return data


async def main(pod: str) -> dict[str, object]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read())
        writer.close()

    server = await asyncio.start_server(handle, NODE_IP, 9000)
    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(UdpEcho, local_addr=(NODE_IP, 9053))
    backend = UserspaceProxier(SubprocessIptables(), UserspaceOptions(node=NodeOptions(node_ips=(NODE_IP,))))
    proxier = Proxier(backend, ProxierOptions(node_name="node"))
    proxier.on_service(None, service("ns1", "echo", "172.30.0.50", ("p80", 80, 0)))
    proxier.on_service(None, service("ns1", "empty", "172.30.0.51", ("p80", 80, 30080), type="NodePort"))
    proxier.on_service(None, service("ns1", "dns", "172.30.0.53", ("dns", 53, 0), protocol="UDP"))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "echo", endpoint(NODE_IP), port=("p80", 9000)))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "dns", endpoint(NODE_IP), port=("dns", 9053), protocol="UDP"))
    await proxier.sync()
    result: dict[str, object] = {}
    reader, writer = await asyncio.open_connection("172.30.0.50", 80)
    writer.write(b"through the portal")
    writer.write_eof()
    result["echo"] = (await asyncio.wait_for(reader.read(), 2)).decode()
    writer.close()
    try:
        await asyncio.wait_for(asyncio.open_connection("172.30.0.51", 80), 1)
        result["empty"] = "connected"
    except ConnectionRefusedError:
        result["empty"] = "refused"
    except TimeoutError:
        result["empty"] = "timeout"
    result["pod_tcp"], result["pod_empty"], result["pod_udp"] = await from_pod(pod)
    # a partial sync (-D/-A of two Services' rules only): empty gains echo's endpoint, echo loses it
    proxier.on_endpoint_slice(endpoint_slice("ns1", "empty", endpoint(NODE_IP), port=("p80", 9000)))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "echo", port=("p80", 9000)))
    report = await proxier.sync()
    result["partial"] = not report.full and not any(ln.startswith(":") for ln in backend.last_restore.splitlines())
    result["swapped"] = [await _answer("172.30.0.50"), await _answer("172.30.0.51")]
    result["saved"] = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    backend.cleanup()
    result["after_cleanup"] = [
        ln
        for ln in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout.splitlines()
        if "KUBE" in ln
    ]
    server.close()
    udp.close()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
