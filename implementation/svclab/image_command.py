"""`svclab image build|manifests`: the container image and what runs it.

* ``svclab image build [--tag T] [--context DIR]`` runs ``docker build`` on
  the checkout's Dockerfile (a one-line error when Docker or its engine is
  missing);
* ``svclab image manifests --testbed FILE [--image T] [--name NAME]
  [--apiserver HOST:PORT]`` prints the ServiceAccounts, RBAC, controller-manager
  Deployment and proxy DaemonSet rendered for that testbed, as one
  multi-document YAML (``kubectl apply -f -`` takes it). For a kind testbed
  the proxy reaches the API server at NAME-control-plane:6443 as ``svclab up``
  deploys it; ``--apiserver`` overrides that, ``--apiserver ''`` keeps the
  in-cluster default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from svclab.testbed.kind.image import DEFAULT_IMAGE

    sub = parser.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)
    build = sub.add_parser("build", help="build the svclab image with docker")
    build.add_argument("--tag", default=DEFAULT_IMAGE, help=f"image tag (default {DEFAULT_IMAGE})")
    build.add_argument("--context", type=Path, help="build context (default: this checkout)")
    manifests = sub.add_parser("manifests", help="print the manifests for a testbed")
    manifests.add_argument("--testbed", required=True, metavar="FILE", help="testbed spec")
    manifests.add_argument("--image", default=DEFAULT_IMAGE, help=f"image the pods run (default {DEFAULT_IMAGE})")
    manifests.add_argument("--name", help="cluster name (default: the spec's metadata.name)")
    manifests.add_argument(
        "--apiserver", metavar="HOST:PORT", help="where the proxy reaches the API server without a Service"
    )


def _build(args: argparse.Namespace) -> int:
    from svclab.testbed.kind.image import build_image
    from svclab.testbed.kind.tools import KindError

    try:
        tag = build_image(args.tag, args.context)
    except KindError as exc:
        print(f"svclab image build: {exc}", file=sys.stderr)
        return 1
    print(f"built {tag}")
    return 0


def _manifests(args: argparse.Namespace) -> int:
    from svclab.testbed.kind.cluster import apiserver_endpoint
    from svclab.testbed.kind.manifests import dump_manifests, render_manifests
    from svclab.testbed.spec import SpecError, load_spec

    try:
        spec = load_spec(args.testbed, args.name)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    apiserver = args.apiserver
    if apiserver is None and spec.provider.value == "kind":
        apiserver = apiserver_endpoint(spec.name, spec)
    if apiserver and ":" not in apiserver:
        print(f"svclab image manifests: --apiserver {apiserver!r} must be HOST:PORT", file=sys.stderr)
        return 2
    sys.stdout.write(dump_manifests(render_manifests(spec, args.image, apiserver=apiserver or None)))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.image_command == "build":
        return _build(args)
    return _manifests(args)
