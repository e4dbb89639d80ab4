"""``svclab proxy``: run the reference kube-proxy on this node.

Flags follow kube-proxy's (``--kubeconfig``, ``--proxy-mode`` spelled
``--mode``, ``--hostname-override``, ``--min-sync-period``, ``--sync-period``,
``--cluster-cidr``, ``--conntrack-tcp-be-liberal``, ``--metrics-bind-address``, ``--healthz-bind-address``,
``--cleanup``); ``--mode`` offers every mode of the registry
(``svclab.proxy.modes``), and each mode may add flags of its own (ipvs:
``--ipvs-scheduler``). The long-running part lives in ``service.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import socket
import subprocess
import sys

from svclab.proxy import modes

__all__ = ["add_arguments", "parse_duration", "run"]

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
    """Register the ``svclab proxy`` flags (the modes' own ones included)."""
    parser.add_argument("--kubeconfig", help="kubeconfig file of the cluster")
    parser.add_argument("--mode", choices=modes.mode_names(), default="iptables", help="proxy mode")
    parser.add_argument(
        "--hostname-override", default=socket.gethostname(), help="name of this node (default: the host name)"
    )
    parser.add_argument("--min-sync-period", type=parse_duration, default=1.0, metavar="DURATION")
    parser.add_argument("--sync-period", type=parse_duration, default=30.0, metavar="DURATION")
    parser.add_argument(
        "--rules-check-period",
        type=parse_duration,
        default=2.0,
        metavar="DURATION",
        help="how often to check that our rules are still installed (0: only at each sync, as upstream)",
    )
    parser.add_argument("--cluster-cidr", help="pod CIDR; traffic from outside it is masqueraded")
    parser.add_argument("--masquerade-all", action="store_true", help="SNAT all Service traffic")
    parser.add_argument(
        "--conntrack-tcp-be-liberal",
        action="store_true",
        help="set nf_conntrack_tcp_be_liberal in the proxy's network namespace; iptables then drops no INVALID packets",
    )
    parser.add_argument(
        "--conntrack-tcp-timeout-established",
        type=parse_duration,
        default=24 * 3600.0,
        metavar="DURATION",
        help="nf_conntrack_tcp_timeout_established in the proxy's network namespace (0: leave it)",
    )
    parser.add_argument(
        "--conntrack-tcp-timeout-close-wait",
        type=parse_duration,
        default=3600.0,
        metavar="DURATION",
        help="nf_conntrack_tcp_timeout_close_wait in the proxy's network namespace (0: leave it)",
    )
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:10249", metavar="HOST:PORT")
    parser.add_argument("--healthz-bind-address", default="0.0.0.0:10256", metavar="HOST:PORT")
    for spec in modes.mode_specs():
        if spec.add_arguments is not None:
            spec.add_arguments(parser)
    parser.add_argument(
        "--no-mode-fallback",
        dest="mode_fallback",
        action="store_false",
        help="exit when this kernel cannot run --mode instead of running its fallback (ipvs -> iptables)",
    )
    parser.add_argument("--cleanup", action="store_true", help="remove all our rules and exit")
    parser.add_argument("--log-level", default="INFO")


def cleanup() -> int:
    """``--cleanup``: every mode this kernel can run removes what it installs; returns the exit status.

    A mode the kernel cannot run (ipvs without IPVS) has nothing to remove.
    """
    failures = 0
    for spec in modes.mode_specs():
        if spec.supported() is not None:
            continue
        try:  # one mode's missing tool must not stop the others' cleanup
            spec.cleanup()
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"svclab proxy: cleanup of {spec.name} rules failed: {exc}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def run(args: argparse.Namespace) -> int:
    """Entry point; returns the process exit status."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.cleanup:
        return cleanup()
    from svclab.proxy.service import serve

    try:
        return asyncio.run(serve(args))
    except modes.ModeUnsupported as exc:
        print(f"svclab proxy: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
