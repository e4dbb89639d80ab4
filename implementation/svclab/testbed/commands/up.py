"""`svclab up FILE [--name NAME] [--provider P] [--kubeconfig PATH]`: bring up a testbed.

The spec's provider decides how: `local` (network namespaces), `kind` (a kind
cluster with svclab deployed; needs Docker), or `kubeconfig` (an existing
cluster, checked and used as it is). A local testbed whose kernel resolves to
``uml`` (``spec.kernel``; ``auto`` picks it for ipvs on a host without IPVS)
runs inside a long-running User-Mode Linux guest, reachable from the host
(``svclab.testbed.local.uml.cluster``); inside the guest the same command runs
with ``--inside-guest``. Prints progress, then as last line
``kubeconfig: PATH``. A bad spec exits 2 and creates nothing; any other
failure removes what was created and exits 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from svclab.testbed.provider import ClusterHandle, Provider, ProviderError
from svclab.testbed.providers import provider_for
from svclab.testbed.spec import ProviderKind, SpecError, Testbed, load_spec

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="testbed spec (clusters/*.yaml)")
    parser.add_argument("--name", help="cluster name (default: the spec's metadata.name)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for every node to be Ready (default 60)"
    )
    parser.add_argument(
        "--keep-on-failure", action="store_true", help="leave a cluster that failed to come up in place, for debugging"
    )
    parser.add_argument("--provider", choices=[p.value for p in ProviderKind], help="override the spec's provider")
    parser.add_argument("--kubeconfig", help="with provider kubeconfig: the existing cluster")
    # Internal: what the UML guest runs (bring up here, serve exec, stop on SIGTERM).
    parser.add_argument("--inside-guest", action="store_true", help=argparse.SUPPRESS)


def _progress(line: str) -> None:
    print(line, flush=True)


def _chosen(args: argparse.Namespace) -> tuple[Testbed, Provider]:
    """The spec (with ``--name``) and the provider: ``--provider``, else ``--kubeconfig``'s, else the spec's."""
    spec = load_spec(args.file, args.name)
    kind = (
        ProviderKind(args.provider)
        if args.provider
        else (ProviderKind.KUBECONFIG if args.kubeconfig else spec.provider)
    )
    return dataclasses.replace(spec, provider=kind), provider_for(kind, kubeconfig=args.kubeconfig)


def _report(provider: Provider, handle: ClusterHandle) -> None:
    timings: tuple[tuple[str, float], ...] = getattr(handle, "timings", ())
    if provider.creates_clusters:
        took = ", ".join(f"{phase} {seconds:.2f}s" for phase, seconds in timings)
        print(f"cluster {handle.name} is up" + (f" ({took})" if took else ""))
    print(f"kubeconfig: {handle.kubeconfig}")


def run(args: argparse.Namespace) -> int:
    if args.inside_guest:
        from svclab.testbed.local.uml.cluster import serve_inside_guest

        return serve_inside_guest(args.file, args.name, timeout=args.timeout, progress=_progress)
    try:
        spec, provider = _chosen(args)
        handle = provider.up(spec, progress=_progress, timeout=args.timeout, keep_on_failure=args.keep_on_failure)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"svclab up: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("svclab up: interrupted; removed what was created", file=sys.stderr)
        return 130
    _report(provider, handle)
    return 0
