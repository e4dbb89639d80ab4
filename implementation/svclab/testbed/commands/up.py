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

from svclab.testbed.local.cluster import UpError, bring_up
from svclab.testbed.spec import ProviderKind, SpecError, load_spec

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


def _other_provider(args: argparse.Namespace) -> int | None:
    """Bring up a kind or kubeconfig testbed; None when the spec is a local one."""
    spec = load_spec(args.file, args.name)
    provider = (
        ProviderKind(args.provider)
        if args.provider
        else (ProviderKind.KUBECONFIG if args.kubeconfig else spec.provider)
    )
    if provider is ProviderKind.LOCAL:
        return None
    spec = dataclasses.replace(spec, provider=provider)
    if provider is ProviderKind.KIND:
        from svclab.testbed.kind.cluster import bring_up as kind_bring_up
        from svclab.testbed.kind.tools import KindError

        try:
            handle = kind_bring_up(
                spec,
                args.name,
                progress=_progress,
                timeout=max(args.timeout, 300),
                keep_on_failure=args.keep_on_failure,
            )
        except KindError as exc:
            print(f"svclab up: {exc}", file=sys.stderr)
            return 1
        print(f"kubeconfig: {handle.kubeconfig}")
        return 0
    from svclab.testbed.kubeconfig import KubeconfigError, from_spec

    try:
        existing = from_spec(spec, args.kubeconfig)
    except KubeconfigError as exc:
        print(f"svclab up: {exc}", file=sys.stderr)
        return 1
    print(f"cluster {existing.name} answers; it is tested as it is")
    print(f"kubeconfig: {existing.kubeconfig}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.inside_guest:
        from svclab.testbed.local.uml.cluster import serve_inside_guest

        return serve_inside_guest(args.file, args.name, timeout=args.timeout, progress=_progress)
    try:
        other = _other_provider(args)
        if other is not None:
            return other
        handle = bring_up(
            args.file, args.name, progress=_progress, timeout=args.timeout, keep_on_failure=args.keep_on_failure
        )
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    except UpError as exc:
        print(f"svclab up: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("svclab up: interrupted; removed what was created", file=sys.stderr)
        return 130
    took = ", ".join(f"{phase} {seconds:.2f}s" for phase, seconds in handle.timings)
    print(f"cluster {handle.name} is up ({took})")
    print(f"kubeconfig: {handle.kubeconfig}")
    return 0
