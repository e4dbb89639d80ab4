"""``svclab proxy``: run the reference kube-proxy on this node.

Flags follow kube-proxy's (``--kubeconfig``, ``--proxy-mode`` spelled
``--mode``, ``--hostname-override``, ``--min-sync-period``, ``--sync-period``,
``--cluster-cidr``, ``--metrics-bind-address``, ``--healthz-bind-address``,
``--cleanup``). Modes ``ipvs`` and ``userspace`` are not built yet and exit
with status 2. The long-running part lives in ``service.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import socket
import subprocess
import sys
from typing import Any

from svclab.proxy.provider import ModeBackend

__all__ = ["add_arguments", "make_backend", "parse_duration", "run"]

MODES = ("iptables", "nftables", "ipvs", "userspace")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go-style durations: ``1s``, ``500ms``, ``1m30s``, or plain seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 1s, 500ms, 1m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``svclab proxy`` flags."""
    parser.add_argument("--kubeconfig", help="kubeconfig file of the cluster")
    parser.add_argument("--mode", choices=MODES, default="iptables", help="proxy mode")
    parser.add_argument(
        "--hostname-override", default=socket.gethostname(), help="name of this node (default: the host name)"
    )
    parser.add_argument("--min-sync-period", type=parse_duration, default=1.0, metavar="DURATION")
    parser.add_argument("--sync-period", type=parse_duration, default=30.0, metavar="DURATION")
    parser.add_argument("--cluster-cidr", help="pod CIDR; traffic from outside it is masqueraded")
    parser.add_argument("--masquerade-all", action="store_true", help="SNAT all Service traffic")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:10249", metavar="HOST:PORT")
    parser.add_argument("--healthz-bind-address", default="0.0.0.0:10256", metavar="HOST:PORT")
    parser.add_argument("--ipvs-scheduler", default="rr", help="ipvs mode: the IPVS scheduler")
    parser.add_argument("--cleanup", action="store_true", help="remove all our rules and exit")
    parser.add_argument("--log-level", default="INFO")


def make_backend(mode: str, args: Any, node_ips: tuple[str, ...] = ()) -> ModeBackend:
    """The mode's backend with real executors."""
    if mode == "iptables":
        from svclab.proxy.iptables.plan import PlanOptions
        from svclab.proxy.iptables.proxier import IptablesProxier
        from svclab.proxy.restore import SubprocessIptables

        return IptablesProxier(
            SubprocessIptables(),
            PlanOptions(
                cluster_cidr=getattr(args, "cluster_cidr", None),
                masquerade_all=getattr(args, "masquerade_all", False),
                node_ip=node_ips[0] if node_ips else "",
            ),
        )
    if mode == "nftables":
        from svclab.proxy.nftables.plan import NftOptions
        from svclab.proxy.nftables.proxier import NftablesProxier, SubprocessNft

        return NftablesProxier(
            SubprocessNft(),
            NftOptions(
                cluster_cidr=getattr(args, "cluster_cidr", None),
                masquerade_all=getattr(args, "masquerade_all", False),
                node_ip=node_ips[0] if node_ips else "",
                node_port_ips=node_ips,
            ),
        )
    if mode == "ipvs":
        from svclab.proxy.ipvs import IpvsOptions, IpvsProxier, NetlinkExecutor

        return IpvsProxier(
            NetlinkExecutor(),
            IpvsOptions(
                scheduler=getattr(args, "ipvs_scheduler", "rr"),
                cluster_cidr=getattr(args, "cluster_cidr", None),
                masquerade_all=getattr(args, "masquerade_all", False),
                node_ip=node_ips[0] if node_ips else "",
            ),
        )
    if mode == "userspace":
        from svclab.proxy.restore import SubprocessIptables
        from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

        return UserspaceProxier(SubprocessIptables(), UserspaceOptions(host_ip=node_ips[0] if node_ips else ""))
    raise ValueError(f"unknown proxy mode {mode!r}")


def run(args: argparse.Namespace) -> int:
    """Entry point; returns the process exit status."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.cleanup:
        from svclab.testbed.local.uml import host_has_ipvs

        # ipvs cleanup needs a kernel with IPVS; elsewhere it has nothing to remove.
        modes = ("iptables", "nftables", "userspace") + (("ipvs",) if host_has_ipvs() else ())
        failures = 0
        for mode in modes:
            try:  # one mode's missing tool must not stop the others' cleanup
                make_backend(mode, args).cleanup()
            except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
                print(f"svclab proxy: cleanup of {mode} rules failed: {exc}", file=sys.stderr)
                failures += 1
        return 1 if failures else 0
    from svclab.proxy.service import serve

    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
