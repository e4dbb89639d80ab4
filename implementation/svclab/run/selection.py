"""Which conformance tests `svclab run` runs on which testbed.

The quick profile leaves out the ``breadth`` tests everywhere, and the
``disruption`` area in a User-Mode Linux guest (~9 min there alone). It also
judges the mode-neutral tests (those without ``needs_proxy``: the API server,
the endpoints controllers, pods and nodes) once per run and control plane:
they test the same code whatever the proxy mode, so running them again beside
every mode only slows every lane down. The first host-kernel testbed of a
control plane runs them; the others of the same control plane run the tests
that need a proxy and say where the rest were judged. A testbed whose
controllers are the user's own (``spec.controllers`` mode external) is a
control plane of its own. ``--profile full`` runs every test on every testbed.
Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["QUICK_SELECTION", "Selection", "TestbedTraits", "plan_selections"]

QUICK_SELECTION = "not breadth"
UML_LEAVES_OUT = "not disruption"
NEEDS_PROXY = "needs_proxy"


@dataclass(frozen=True, slots=True)
class TestbedTraits:
    """What the plan needs to know of one testbed."""

    __test__ = False  # not a pytest test class, despite its name

    path: Path
    in_uml: bool
    control_plane: Hashable  # testbeds with equal values run the same API server and controllers


@dataclass(frozen=True, slots=True)
class Selection:
    """pytest arguments for one testbed's suite, and where its mode-neutral tests were judged."""

    args: tuple[str, ...] = ()
    neutral_on: str = ""  # the testbed that ran the mode-neutral tests, when not this one

    @property
    def marker_expression(self) -> str:
        return self.args[self.args.index("-m") + 1] if "-m" in self.args[:-1] else ""


def plan_selections(testbeds: Sequence[TestbedTraits], *, profile: str, user_args: str = "") -> dict[Path, Selection]:
    """Each testbed's selection. A user's own ``-m`` in ``user_args`` is taken as it is, everywhere."""
    extra = tuple(user_args.split())
    if profile != "quick" or "-m" in extra:
        return {t.path: Selection(extra) for t in testbeds}
    judges: dict[Hashable, TestbedTraits] = {}
    for t in sorted(testbeds, key=lambda t: t.in_uml):  # a host testbed judges before a guest would
        judges.setdefault(t.control_plane, t)
    plans = {}
    for t in testbeds:
        terms = [QUICK_SELECTION] + ([UML_LEAVES_OUT] if t.in_uml else [])
        judge = judges[t.control_plane]
        if judge is not t:
            terms.insert(0, NEEDS_PROXY)
        plans[t.path] = Selection((*extra, "-m", " and ".join(terms)), "" if judge is t else judge.path.stem)
    return plans
