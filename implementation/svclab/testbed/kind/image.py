"""The svclab container image: its default tag and ``docker build``.

The image is built from the ``Dockerfile`` at the root of a svclab checkout
(the build context is the checkout; ``.dockerignore`` keeps it small). It
holds the svclab package and the Debian tools the proxy needs, runs
``svclab`` as entrypoint and a non-root user by default; the proxy's pods
override the user to root (netfilter needs it).

``build_image(tag)`` checks Docker first (``docker info``), so a machine
without a running engine gets a one-line error instead of a build log.
"""

from __future__ import annotations

from pathlib import Path

import svclab
from svclab.testbed.kind.tools import KindError, Tool, docker_engine_problem, find_tool, run_tool

__all__ = ["DEFAULT_IMAGE", "build_command", "build_image", "checkout_root"]

# Never ":latest": kubelet would then always pull, and a kind-loaded image is
# not in any registry.
DEFAULT_IMAGE = f"svclab:{svclab.__version__}"
BUILD_TIMEOUT = 1800.0


def checkout_root() -> Path:
    """The svclab checkout this package runs from (holds the Dockerfile)."""
    # implementation/svclab/testbed/kind/image.py -> the checkout is four levels up
    return Path(__file__).resolve().parents[4]


def build_command(docker: str, tag: str, context: Path) -> list[str]:
    """The ``docker build`` argv. Side-effect-free."""
    return [docker, "build", "--tag", tag, "--file", str(context / "Dockerfile"), str(context)]


def build_image(tag: str = DEFAULT_IMAGE, context: Path | None = None) -> str:
    """Build the image with Docker; return the tag. Raises KindError (one line)."""
    context = context or checkout_root()
    if not (context / "Dockerfile").is_file():
        raise KindError(f"no Dockerfile in {context}; run from a svclab checkout or pass --context")
    docker = find_tool(Tool.DOCKER)
    problem = docker_engine_problem(docker)
    if problem is not None:
        raise KindError(f"building the image needs a running Docker engine: {problem}")
    run_tool(build_command(docker, tag, context), timeout=BUILD_TIMEOUT, capture=False)
    return tag
