"""Root test: a pod sandbox with the built-in agnhost, reached from another namespace.

Address plan (all inside throwaway namespaces named ``svclab-agenttest-<pid>*``):

* node namespace ``svclab-agenttest-<pid>-0``: bridge ``cni0`` 10.250.0.1/24;
* pod sandbox (made by the agent code, run inside the node namespace): 10.250.0.2,
  hostname ``web-0``, agnhost netexec on 8080/8081;
* client namespace ``svclab-agenttest-<pid>-c``: 10.250.0.200 on ``cni0``.

Everything is deleted afterwards, also when the test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

CLUSTER = f"agenttest-{os.getpid()}"
NODE_NS = f"svclab-{CLUSTER}-0"
CLIENT_NS = f"svclab-{CLUSTER}-c"
PREFIX = f"svclab-{CLUSTER}-"

# Runs inside the node namespace: builds the sandbox, starts netexec in it.
DRIVER = r"""
import ipaddress, json, subprocess, sys
from pathlib import Path
from svclab.testbed.local.agent.sandbox import create_sandbox, process_start_ticks, save_sandbox
net = ipaddress.IPv4Network("10.250.0.0/24")
sb = create_sandbox(cluster=sys.argv[1], uid="0123abcd-0000-0000-0000-000000000000",
                    namespace="default", name="web-0", hostname="web-0",
                    ips=[ipaddress.IPv4Address("10.250.0.2")], networks=[net], state_dir=Path(sys.argv[2]))
proc = subprocess.Popen([sys.executable, "-m", "svclab.testbed.local.agnhost", "netexec",
                         "--http-port=8080", "--udp-port=8081"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        preexec_fn=sb.entering())
sb.containers["netexec"] = [proc.pid, process_start_ticks(proc.pid)]
save_sandbox(sb)
print(json.dumps({"netns": sb.netns, "holder": sb.holder_pid, "pid": proc.pid}), flush=True)
"""

TEARDOWN = r"""
import sys
from pathlib import Path
from svclab.testbed.local.agent.sandbox import destroy_sandbox, load_sandboxes
for sb in load_sandboxes(Path(sys.argv[1])):
    destroy_sandbox(sb)
"""


def _in_node() -> list[str]:
    # Only the network namespace: `ip netns exec` would also give the driver a private
    # mount namespace, hiding the pod namespace's /run/netns mount from everyone else.
    return ["nsenter", f"--net=/run/netns/{NODE_NS}", "--"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _remove_everything() -> None:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in names.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Path]:
    try:
        _ip("netns", "add", NODE_NS)
        _ip("netns", "add", CLIENT_NS)
        _ip("-n", NODE_NS, "link", "add", "cni0", "type", "bridge")
        _ip("-n", NODE_NS, "addr", "add", "10.250.0.1/24", "dev", "cni0")
        _ip("-n", NODE_NS, "link", "set", "cni0", "up")
        _ip("-n", NODE_NS, "link", "add", "vclient", "type", "veth", "peer", "name", "eth0", "netns", CLIENT_NS)
        _ip("-n", NODE_NS, "link", "set", "vclient", "master", "cni0", "up")
        _ip("-n", CLIENT_NS, "addr", "add", "10.250.0.200/24", "dev", "eth0")
        _ip("-n", CLIENT_NS, "link", "set", "eth0", "up")
        yield tmp_path
    finally:
        subprocess.run([*_in_node(), sys.executable, "-c", TEARDOWN, str(tmp_path)], capture_output=True)
        _remove_everything()


def _client(code: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", CLIENT_NS, sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout


def _get(path: str) -> str:
    # Polls until netexec listens (it starts asynchronously); deadline, not a timed assertion.
    return _client(
        "import time, urllib.request\n"
        "deadline = time.monotonic() + 10\n"
        "while True:\n"
        "    try:\n"
        f"        print(urllib.request.urlopen('http://10.250.0.2:8080{path}', timeout=1).read().decode()); break\n"
        "    except OSError:\n"
        "        if time.monotonic() > deadline: raise\n"
        "        time.sleep(0.05)\n"
    )


def test_sandbox_serves_netexec_to_another_namespace(node: Path) -> None:
    out = subprocess.run(
        [*_in_node(), sys.executable, "-c", DRIVER, CLUSTER, str(node)],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    )
    started = json.loads(out.stdout)
    assert started["netns"] == f"svclab-{CLUSTER}-p0123abcd"
    info = json.loads((node / "pods" / "default_web-0" / "info.json").read_text())
    assert info["pid"] == started["holder"] and info["netns"] == started["netns"]
    assert _get("/hostname").strip() == "web-0"
    assert _get("/clientip").strip().startswith("10.250.0.200:")
    udp = _client(
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
        "s.settimeout(5); s.sendto(b'hostname', ('10.250.0.2', 8081));"
        "print(s.recv(100).decode())"
    )
    assert udp.strip() == "web-0"
    links = subprocess.run(
        ["ip", "-n", NODE_NS, "-d", "link", "show", "veth0123abcd"], capture_output=True, text=True
    ).stdout
    assert "master cni0" in links and "hairpin on" in links


# Runs inside the node namespace: a hostNetwork pod's sandbox, netexec in it, then teardown.
HOST_DRIVER = r"""
import json, subprocess, sys, time, urllib.request
from pathlib import Path
from svclab.testbed.local.agent.sandbox import create_host_sandbox, destroy_sandbox
sb = create_host_sandbox(uid="4567abcd-0000-0000-0000-000000000000", namespace="default", name="host-0",
                         node_netns=sys.argv[1], node_name="node-0", node_ips=("10.250.0.1",),
                         state_dir=Path(sys.argv[2]))
proc = subprocess.Popen([sys.executable, "-m", "svclab.testbed.local.agnhost", "netexec",
                         "--http-port=8080", "--udp-port=-1"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=sb.entering())
deadline = time.monotonic() + 10
while True:  # netexec starts asynchronously: poll against a deadline
    try:
        hostname = urllib.request.urlopen("http://10.250.0.1:8080/hostname", timeout=1).read().decode()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
proc.kill()
proc.wait()
destroy_sandbox(sb)
print(json.dumps({"netns": sb.netns, "ip": sb.ip, "hostname": hostname, "veth": sb.host_veth}), flush=True)
"""


def test_host_network_sandbox_uses_the_node_namespace_and_leaves_it(node: Path) -> None:
    _ip("-n", NODE_NS, "link", "set", "lo", "up")  # as on a cluster node: the driver dials its own address
    out = subprocess.run(
        [*_in_node(), sys.executable, "-c", HOST_DRIVER, NODE_NS, str(node)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    started = json.loads(out.stdout)
    # netexec listened in the node's own namespace, on the node's address, named as the node.
    assert started == {"netns": NODE_NS, "ip": "10.250.0.1", "hostname": "node-0", "veth": ""}
    # Teardown removed the pod's record but not the node's namespace or its bridge.
    assert not (node / "pods" / "default_host-0").exists()
    assert NODE_NS in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    _ip("-n", NODE_NS, "link", "show", "cni0")
