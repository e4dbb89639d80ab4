"""Bring your own proxy or controllers: a command the testbed runs in place of ours (issue 19).

A testbed spec may say ``spec.proxy.mode: external`` with a ``command`` (an
argv list) and an optional ``env``, or ``spec.controllers: {mode: external,
command: [...]}``. The local provider then runs that command where it would
run ``svclab proxy`` (once per node, in the node's namespace) or ``svclab
controller-manager`` (in the control-plane node), under the same supervisor.
Before it starts, each ``{placeholder}`` in the argv and the env values is
replaced by the node's value:

* ``{kubeconfig}``: the kubeconfig the reference components use;
* ``{nodeName}``, ``{nodeIP}``, ``{podCIDR}``: the node's (the control-plane
  node's for controllers);
* ``{clusterCIDR}``, ``{serviceCIDR}``: the cluster's pod and Service subnets.

``{{`` and ``}}`` stand for literal braces. ``check_external`` validates the
spec's mapping (one problem line per bad field, through the caller's
``fail``); ``expand`` substitutes. Both are side-effect-free.

Why ``external`` is not a mode of the proxy mode registry
(``svclab.proxy.modes``): a registry entry is code ``svclab proxy --mode``
can build, benchmark and clean up, and everything that lists modes (bench,
report colours, ``svclab proxy --mode`` choices) iterates over it. An external
proxy is none of that: it says *who* runs the proxy, like ``none`` says nobody
does, so the spec knows it and the registry does not. Its rules may still be
read with a registered mode's dump when ``spec.proxy.rules`` names one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "EXTERNAL",
    "ExternalCommand",
    "PLACEHOLDERS",
    "check_external",
    "expand",
    "external_label",
]

EXTERNAL = "external"
#: The placeholders a command or env value may use, as the issue names them.
PLACEHOLDERS = ("kubeconfig", "nodeName", "nodeIP", "podCIDR", "clusterCIDR", "serviceCIDR")
# `{{`, `}}` (escaped braces) or one `{name}`; any other brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z]*)\}|[{}]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ExternalCommand:
    """An external component's argv and extra environment, placeholders not yet replaced."""

    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """How reports name it: ``external: <command basename>``."""
        return external_label(self.command)

    def expanded(self, values: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """The argv and env with every placeholder replaced from ``values``. Side-effect-free."""
        return (
            tuple(expand(part, values) for part in self.command),
            tuple((name, expand(value, values)) for name, value in self.env),
        )


def external_label(command: tuple[str, ...] | list[str]) -> str:
    """``external: <basename of argv[0]>`` (``external`` alone for an empty argv)."""
    return f"{EXTERNAL}: {PurePath(command[0]).name}" if command else EXTERNAL


def expand(text: str, values: Mapping[str, str]) -> str:
    """``text`` with ``{name}`` replaced by ``values[name]`` and ``{{``/``}}`` by braces.

    Raises ``ValueError`` for an unknown placeholder or a lone brace (the spec
    check reports those first, so a validated command never raises).
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name is None or name not in values:
            raise ValueError(_placeholder_problem(token))
        return values[name]

    return _TOKEN.sub(replace, text)


def _placeholder_problem(token: str) -> str:
    if token in ("{", "}"):
        return "a lone brace (write {{ or }} for a literal one)"
    return f"unknown placeholder {token} (known: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ")"


def _placeholder_problems(text: str) -> list[str]:
    found = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token not in ("{{", "}}") and match.group(1) not in PLACEHOLDERS:
            found.append(_placeholder_problem(token))
    return found


def check_external(raw: Mapping[str, Any], path: str, fail: Callable[[str, str], None]) -> ExternalCommand | None:
    """Validate ``command`` and ``env`` of an external component's mapping at ``path``.

    Reports each problem through ``fail(field_path, message)``; returns the
    command, or None when it is missing or bad. Side-effect-free.
    """
    command = raw.get("command")
    ok = True
    if command is None:
        fail(f"{path}.command", "required with mode external: the argv list that starts your component")
        return None
    if not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command):
        fail(f"{path}.command", "must be a non-empty list of strings (an argv)")
        return None
    if not command[0]:
        fail(f"{path}.command[0]", "must name the program to run")
        ok = False
    for index, part in enumerate(command):
        for problem in _placeholder_problems(part):
            fail(f"{path}.command[{index}]", problem)
            ok = False
    env = _check_env(raw.get("env"), f"{path}.env", fail)
    if env is None or not ok:
        return None
    return ExternalCommand(tuple(command), env)


def _check_env(raw: Any, path: str, fail: Callable[[str, str], None]) -> tuple[tuple[str, str], ...] | None:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        fail(path, "must map variable names to strings")
        return None
    env, ok = [], True
    for name, value in raw.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            fail(f"{path}.{name}", "must be a variable name (letters, digits, _; not starting with a digit)")
            ok = False
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            fail(f"{path}.{name}", "must be a string")
            ok = False
        else:
            for problem in _placeholder_problems(str(value)):
                fail(f"{path}.{name}", problem)
                ok = False
            env.append((name, str(value)))
    return tuple(env) if ok else None
