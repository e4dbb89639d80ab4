"""`svclab bench WHAT`: performance figures, printed, never pass/fail.

Each benchmark is a module exposing `add_arguments(parser)` and
`run(args) -> int`, like the top-level commands.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["BENCHMARKS", "add_arguments", "run"]

BENCHMARKS: dict[str, tuple[str, str]] = {
    "apiserver": ("svclab.bench.apiserver", "creates/s and watch delivery latency of the API server"),
    "up": ("svclab.bench.up", "time to a Ready 3-node local cluster and to 100 Ready pods"),
    "endpoints": ("svclab.bench.endpoints", "pod Ready to Endpoints/EndpointSlice latency"),
    "proxy": ("svclab.bench.proxy", "proxy rule sync times per mode"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        bench_parser = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(bench_module=module)


def run(args: argparse.Namespace) -> int:
    return int(args.bench_module.run(args) or 0)
