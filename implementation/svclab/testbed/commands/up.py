"""`svclab up FILE [--name NAME]`: bring up a local testbed.

Prints progress, then as last line ``kubeconfig: PATH``. A bad spec exits 2
and creates nothing; any other failure removes what was created and exits 1.
"""

from __future__ import annotations

import argparse
import sys

from svclab.testbed.local.cluster import UpError, bring_up
from svclab.testbed.spec import SpecError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="testbed spec (clusters/*.yaml)")
    parser.add_argument("--name", help="cluster name (default: the spec's metadata.name)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for every node to be Ready (default 60)")
    parser.add_argument("--keep-on-failure", action="store_true",
                        help="leave a cluster that failed to come up in place, for debugging")


def _progress(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        handle = bring_up(args.file, args.name, progress=_progress, timeout=args.timeout,
                          keep_on_failure=args.keep_on_failure)
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
