"""`svclab down` leaves the host exactly as it was (root only, real clusters).

Snapshots of the root network namespace (links, addresses, routes, iptables and
nft rulesets, the netns list) are taken before `svclab up` and after
`svclab down`; they must be equal. Also after the supervisor was SIGKILLed
(its children orphaned) and `svclab down --all` cleaned up.

Address plan: one 2-node cluster `hc<pid>` (172.18.0.2-3, pods 10.244.0-1.0/24),
proxy mode none, so only the API server, scheduler and node agents run.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from svclab.testbed.local import naming, network
from svclab.testbed.local.lifecycle import cluster_exists, tear_down
from svclab.testbed.local.record import read_cluster

MISSING = [
    module
    for module in ("svclab.apiserver.command", "svclab.testbed.local.agent_command")
    if importlib.util.find_spec(module) is None
]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates network namespaces)"),
    pytest.mark.skipif(bool(MISSING), reason=f"not yet available: {', '.join(MISSING)}"),
    pytest.mark.integration,
]

SPEC = """\
apiVersion: svclab.dev/v1alpha1
kind: Testbed
metadata: {{name: {name}}}
spec:
  proxy: {{mode: none}}
  controllers: []
  cluster:
    kind: Cluster
    apiVersion: kind.x-k8s.io/v1alpha4
    nodes:
      - role: control-plane
      - role: worker
        labels: {{topology.kubernetes.io/zone: zone-b}}
"""

SNAPSHOT_COMMANDS = {
    "links": ["ip", "-o", "link", "show"],
    "addresses": ["ip", "-o", "address", "show"],
    "routes4": ["ip", "-4", "route", "show", "table", "all"],
    "routes6": ["ip", "-6", "route", "show", "table", "all"],
    "iptables": ["iptables-save"],
    "ip6tables": ["ip6tables-save"],
    "nft": ["nft", "list", "ruleset"],
    "netns": ["ip", "netns", "list"],
}


def snapshot(cluster: str) -> dict[str, list[str]]:
    """The root namespace's network state; volatile lines (comments, counters) dropped.

    Namespaces of other svclab clusters are left out: tests of other parts may
    create and remove theirs meanwhile, and they are not this cluster's doing.
    """
    state = {}
    for key, argv in SNAPSHOT_COMMANDS.items():
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        state[key] = [
            line.split(" [", 1)[0] if line.startswith(":") else line
            for line in output.splitlines()
            if not line.startswith("#")
        ]
    own = naming.cluster_netns_prefix(cluster)
    state["netns"] = [
        line for line in state["netns"] if not line.startswith(naming.NETNS_PREFIX) or line.startswith(own)
    ]
    return state


def svclab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svclab.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def processes_naming(state: Path) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and str(state).encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                pids.append(int(entry))
        except OSError:
            continue
    return pids


@pytest.fixture
def spec_file(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    name = f"hc{os.getpid() % 100000}"
    path = tmp_path / "two-nodes.yaml"
    path.write_text(SPEC.format(name=name))
    try:
        yield name, path
    finally:
        tear_down(name)  # whatever the test did, nothing stays


def bring_up(name: str, path: Path) -> None:
    up = svclab("up", str(path))
    assert up.returncode == 0, up.stderr + up.stdout
    assert up.stdout.splitlines()[-1] == f"kubeconfig: {naming.state_dir(name) / 'kubeconfig'}"
    assert cluster_exists(name)


def test_down_restores_the_host(spec_file: tuple[str, Path]) -> None:
    name, path = spec_file
    before = snapshot(name)
    bring_up(name, path)
    assert network.cluster_namespaces(name)
    down = svclab("down", name)
    assert down.returncode == 0, down.stderr
    assert snapshot(name) == before
    assert not naming.state_dir(name).exists()
    assert processes_naming(naming.state_dir(name)) == []


def test_down_all_after_killed_supervisor_restores_the_host(spec_file: tuple[str, Path]) -> None:
    name, path = spec_file
    if network.list_netns() or (naming.run_root().exists() and any(naming.run_root().iterdir())):
        pytest.skip("other svclab clusters or namespaces exist; `down --all` would remove them")
    before = snapshot(name)
    bring_up(name, path)
    supervisor = read_cluster(name).supervisor_pid
    assert supervisor is not None
    os.kill(supervisor, signal.SIGKILL)
    down = svclab("down", "--all")
    assert down.returncode == 0, down.stderr
    assert snapshot(name) == before
    assert processes_naming(naming.state_dir(name)) == []
    assert not cluster_exists(name)
