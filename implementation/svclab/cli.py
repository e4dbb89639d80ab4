"""`svclab ...`: the command line.

Each subcommand lives in its own module, which exposes
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int``. Modules are imported only when their
command runs, so a command's heavy dependencies never slow the others down.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "apiserver": (
        "svclab.apiserver.command",
        "run the Kubernetes-compatible API server in the foreground",
    ),
    "controller-manager": ("svclab.controllers.command", "run the endpoints, EndpointSlice and mirroring controllers"),
    "proxy": ("svclab.proxy.command", "run the reference kube-proxy on this node"),
    "scheduler": ("svclab.testbed.local.scheduler_command", "run the local scheduler"),
    "node-agent": ("svclab.testbed.local.agent_command", "run the local node agent (kubelet's role)"),
    "supervisor": (
        "svclab.testbed.local.supervisor_command",
        "run a local cluster's process supervisor (started by `svclab up`)",
    ),
    "up": ("svclab.testbed.commands.up", "bring up a testbed from a YAML file"),
    "down": ("svclab.testbed.commands.down", "tear down a testbed (or --all)"),
    "list": ("svclab.testbed.commands.list_", "list the testbeds that are up"),
    "kubeconfig": ("svclab.testbed.commands.kubeconfig", "print a testbed's kubeconfig path"),
    "exec": ("svclab.testbed.commands.exec_", "run a command in a pod"),
    "node-exec": ("svclab.testbed.commands.node_exec", "run a command on a node"),
    "fault": ("svclab.testbed.commands.fault", "kill, freeze, flush or cut off a part of a cluster"),
    "explain": ("svclab.testbed.commands.explain", "show the way a packet to a Service takes, rule by rule"),
    "image": ("svclab.image_command", "build the svclab image or print its kind manifests"),
    "bench": ("svclab.bench.command", "print performance figures (not pass/fail)"),
    "run": ("svclab.run.command", "the main job: conformance and load tests on every testbed"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="svclab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage / error for unknown commands
        parser.print_help()
        return 2
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    cmd_parser = argparse.ArgumentParser(prog=f"svclab {name}", description=help_text)
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
