"""Pod sandboxes: a network namespace, a veth on the node's ``cni0``, and a holder.

For pod UID ``u`` on cluster ``C`` the sandbox is the network namespace
``svclab-C-p<first 8 hex of u>`` holding ``eth0`` (the pod end of a veth pair)
with the pod IP, ``lo`` up and a default route via ``cni0``'s address (on a
dual-stack node, issue 18: an IPv6 address too, added ``nodad`` so it is usable
at once, and an IPv6 default route via cni0's IPv6 address); the host
end ``veth<8 hex>`` is a port of ``cni0`` with hairpin mode on, so a pod can
reach itself through a Service. A holder process (``sleep infinity`` in the
pod's netns and its own UTS namespace, hostname = pod hostname) plays the pause
container. ``<state-dir>/pods/<ns>_<name>/info.json`` records all of it for
``svclab exec`` and for the next agent run.

A ``hostNetwork`` pod gets a sandbox without a namespace of its own: its
``netns`` is the node's, its IP the node's, it has no veth, and its holder
carries the node's name as hostname (kubelet shares the node's network and
hostname with such a pod). Tearing it down never touches the node's namespace.

The functions here run in the agent's (node's) network namespace; the pod side
is configured through pyroute2's netns support.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyroute2 import IPRoute, NetlinkError

from svclab.testbed.local.nsexec import NETNS_RUN_DIR, create_netns, delete_netns, in_netns, preexec_entering

__all__ = [
    "Sandbox",
    "create_host_sandbox",
    "create_sandbox",
    "destroy_sandbox",
    "kill_if_ours",
    "load_sandboxes",
    "process_start_ticks",
    "sandbox_netns_name",
    "save_sandbox",
]

BRIDGE = "cni0"
POD_INTERFACE = "eth0"
IFA_F_NODAD = 0x02  # linux/if_addr.h: skip duplicate address detection
# A pod namespace on a dual-stack node: IPv6 on, and no DAD for the link-local address either.
POD_IPV6_SYSCTLS = {
    "net/ipv6/conf/default/disable_ipv6": "0",
    "net/ipv6/conf/all/disable_ipv6": "0",
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/all/accept_dad": "0",
}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def sandbox_netns_name(cluster: str, uid: str) -> str:
    return f"svclab-{cluster}-p{_short(uid)}"


def _short(uid: str) -> str:
    return uid.replace("-", "")[:8]


@dataclass(slots=True)
class Sandbox:
    """One pod's sandbox; mutable only in ``containers`` (name -> [pid, start ticks])."""

    uid: str
    namespace: str
    name: str
    netns: str
    host_veth: str
    ip: str
    holder_pid: int
    holder_ticks: int
    directory: str
    containers: dict[str, list[int]] = field(default_factory=dict)
    host_network: bool = False  # netns and ip are the node's; nothing of them is ours to remove
    secondary_ip: str = ""  # dual stack: the other family's pod IP (absent in older records)

    @property
    def ips(self) -> tuple[str, ...]:
        """``status.podIPs``: the pod's addresses, primary family first."""
        return tuple(ip for ip in (self.ip, self.secondary_ip) if ip)

    @property
    def info_path(self) -> Path:
        return Path(self.directory) / "info.json"

    def entering(self, workdir: str | None = None) -> Callable[[], None]:
        """A ``preexec_fn`` joining the pod (the holder's UTS namespace, the pod's network
        namespace) in a session of its own; without a holder only the network namespace."""
        uts = f"/proc/{self.holder_pid}/ns/uts" if self.holder_pid else None
        return preexec_entering(self.netns, uts=uts, new_session=True, workdir=workdir)


def process_start_ticks(pid: int) -> int:
    """The process's start time in clock ticks (0 when it is gone): tells pid reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def kill_if_ours(pid: int, ticks: int, signum: int = signal.SIGKILL) -> bool:
    """Signal ``pid`` only if it is still the process we started (same start time)."""
    if pid <= 0 or ticks <= 0 or process_start_ticks(pid) != ticks:
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    if signum == signal.SIGKILL:
        _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect a killed child so it does not linger as a zombie (not ours: nothing to do)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def save_sandbox(sandbox: Sandbox) -> None:
    """Write info.json atomically (``svclab exec`` may read it at any moment)."""
    info = asdict(sandbox)
    info["pid"] = sandbox.holder_pid  # the contract's name for the holder
    tmp = sandbox.info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    tmp.replace(sandbox.info_path)


def create_sandbox(
    *,
    cluster: str,
    uid: str,
    namespace: str,
    name: str,
    hostname: str,
    ips: Sequence[Address],
    networks: Sequence[Network],
    state_dir: Path,
) -> Sandbox:
    """Build the namespace, veth, addresses, routes and holder; undo all on failure.

    ``ips`` are the pod's addresses, one per pod CIDR in ``networks`` (same order,
    primary family first).
    """
    ns_name = sandbox_netns_name(cluster, uid)
    host_veth = f"veth{_short(uid)}"
    directory = state_dir / "pods" / f"{namespace}_{name}"
    directory.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(
        uid=uid,
        namespace=namespace,
        name=name,
        netns=ns_name,
        host_veth=host_veth,
        ip=str(ips[0]),
        holder_pid=0,
        holder_ticks=0,
        directory=str(directory),
        secondary_ip=str(ips[1]) if len(ips) > 1 else "",
    )
    try:
        _plumb(ns_name, host_veth, list(zip(ips, networks, strict=True)))
        _start_holder(sandbox, hostname)
    except BaseException:
        destroy_sandbox(sandbox)
        raise
    return sandbox


def create_host_sandbox(
    *, uid: str, namespace: str, name: str, node_netns: str, node_name: str, node_ips: Sequence[str], state_dir: Path
) -> Sandbox:
    """A hostNetwork pod's sandbox: only a holder in the node's namespace (see the module docstring);
    its addresses are the node's, one per family."""
    directory = state_dir / "pods" / f"{namespace}_{name}"
    directory.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(
        uid=uid,
        namespace=namespace,
        name=name,
        netns=node_netns,
        host_veth="",
        ip=node_ips[0],
        holder_pid=0,
        holder_ticks=0,
        directory=str(directory),
        host_network=True,
        secondary_ip=node_ips[1] if len(node_ips) > 1 else "",
    )
    try:
        _start_holder(sandbox, node_name)
    except BaseException:
        destroy_sandbox(sandbox)
        raise
    return sandbox


def _start_holder(sandbox: Sandbox, hostname: str) -> None:
    """Start the pause-like holder (own UTS namespace, ``hostname``) in the sandbox's
    network namespace and record the sandbox."""
    holder = subprocess.Popen(
        ["sleep", "infinity"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec_entering(sandbox.netns, hostname=hostname[:63], new_session=True),
        close_fds=True,
    )
    sandbox.holder_pid = holder.pid
    sandbox.holder_ticks = process_start_ticks(holder.pid)
    save_sandbox(sandbox)


def _plumb(ns_name: str, host_veth: str, addresses: list[tuple[Address, Network]]) -> None:
    if (NETNS_RUN_DIR / ns_name).exists():
        delete_netns(ns_name)  # a leftover from a crash; its pod is gone or being rebuilt
    create_netns(ns_name)
    if any(ip.version == 6 for ip, _ in addresses):
        with in_netns(ns_name):  # before eth0 arrives, so it inherits them
            for key, value in POD_IPV6_SYSCTLS.items():
                Path("/proc/sys", key).write_text(value)
    with IPRoute() as ipr:
        if ipr.link_lookup(ifname=host_veth):
            ipr.link("del", ifname=host_veth)
        temp_peer = f"p{host_veth[4:]}"
        ipr.link("add", ifname=host_veth, kind="veth", peer={"ifname": temp_peer, "net_ns_fd": ns_name})
        (bridge,) = ipr.link_lookup(ifname=BRIDGE)
        (index,) = ipr.link_lookup(ifname=host_veth)
        ipr.link("set", index=index, master=bridge, state="up")
        ipr.brport("set", index=index, mode=1)  # IFLA_BRPORT_MODE: hairpin
    with in_netns(ns_name):  # the handle keeps the namespace it was made in; no fork
        pod = IPRoute()
    with pod:
        (index,) = pod.link_lookup(ifname=temp_peer)
        pod.link("set", index=index, ifname=POD_INTERFACE)
        for ip, network in addresses:
            # IPv6 without DAD: tentative addresses are unusable for ~2 s and these are unique.
            flags = {"flags": IFA_F_NODAD} if ip.version == 6 else {}
            pod.addr("add", index=index, address=str(ip), prefixlen=network.prefixlen, **flags)
        pod.link("set", index=index, state="up")
        (lo,) = pod.link_lookup(ifname="lo")
        pod.link("set", index=lo, state="up")
        for ip, network in addresses:
            gateway = str(network.network_address + 1)
            if ip.version == 6:
                pod.route("add", dst="::/0", gateway=gateway, family=socket.AF_INET6)
            else:
                pod.route("add", dst="0.0.0.0/0", gateway=gateway)


def destroy_sandbox(sandbox: Sandbox) -> None:
    """Kill the holder and leftover containers (ours only), drop netns, veth and state."""
    for pid, ticks in sandbox.containers.values():
        kill_if_ours(pid, ticks)
    kill_if_ours(sandbox.holder_pid, sandbox.holder_ticks)
    if sandbox.host_network:  # the node's namespace: not ours
        shutil.rmtree(sandbox.directory, ignore_errors=True)
        return
    if (NETNS_RUN_DIR / sandbox.netns).exists():
        delete_netns(sandbox.netns)  # takes the pod end, and with it the whole veth pair
    with IPRoute() as ipr:
        try:
            if ipr.link_lookup(ifname=sandbox.host_veth):
                ipr.link("del", ifname=sandbox.host_veth)
        except NetlinkError as exc:
            # The kernel tears a removed namespace's veth pair down asynchronously, so
            # the host end may vanish between lookup and delete.
            if exc.code != errno.ENODEV:
                raise
    shutil.rmtree(sandbox.directory, ignore_errors=True)


def load_sandboxes(state_dir: Path) -> list[Sandbox]:
    """The sandboxes a previous agent run recorded (unreadable records are skipped)."""
    found = []
    for info_path in sorted((state_dir / "pods").glob("*/info.json")):
        try:
            info = json.loads(info_path.read_text())
            info.pop("pid", None)
            found.append(Sandbox(**info))
        except (OSError, ValueError, TypeError):
            continue
    return found
