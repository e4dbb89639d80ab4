"""`svclab explain NAME svc/SERVICE [-n NS] [--from POD|node/NODE] [--port P] [--node-port] [--family F] [-o FMT]`.

Prints the way the first packet of a new connection to the Service takes on
the node it enters, read from that node's live rules (see
``svclab.testbed.explain`` and ``svclab.proxy.explain``): rule by rule,
then each endpoint it may reach with its share, the pick and masquerade.
``--from`` a pod sends from the pod's IP (hook PREROUTING on its node);
``node/NODE`` (the default: the first worker) from the node itself (hook
OUTPUT). ``--node-port`` aims at the NodePort on that node's address
instead of the ClusterIP. ``--family IPv6`` on a dual-stack cluster follows
the Service's IPv6 ClusterIP (and the source's IPv6 address) through the
IPv6 proxier's rules. Exit status 0, or 1 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from svclab.proxy.explain import render_text
from svclab.testbed.commands.exec_ import attach_or_say
from svclab.testbed.explain import ExplainError, Target, explain_service
from svclab.testbed.provider import ProviderError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="cluster name")
    parser.add_argument("service", help="svc/NAME (or NAME)")
    parser.add_argument("-n", "--namespace", default="default", help="the Service's (and a source pod's) namespace")
    parser.add_argument("--from", dest="source", default="", help="POD or node/NODE (default: the first worker node)")
    parser.add_argument("--port", default="", help="the Service port, by name or number (default: the first)")
    parser.add_argument("--node-port", action="store_true", help="to the NodePort on the entry node, not the ClusterIP")
    parser.add_argument(
        "--family", default="", help="IPv4 or IPv6: which ClusterIP of a dual-stack Service (default: its primary)"
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    handle = attach_or_say("svclab explain", args.name)
    if handle is None:
        return 1
    name = args.service.split("/", 1)[1] if args.service.startswith(("svc/", "service/")) else args.service
    target = Target(args.namespace, name, args.port, args.source, args.node_port, args.family)
    try:
        explanation = explain_service(handle, target)
    except (ExplainError, ProviderError, KeyError) as exc:
        print(f"svclab explain: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(explanation.to_json(), indent=2))
    else:
        sys.stdout.write(render_text(explanation))
    return 0
