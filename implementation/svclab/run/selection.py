"""Which conformance tests `svclab run` runs on which testbed.

The quick profile leaves out the ``breadth`` tests everywhere, and the
``disruption`` area in a User-Mode Linux guest (~9 min there alone). It also
judges the mode-neutral tests (those without ``needs_proxy``: the API server,
the endpoints controllers, pods and nodes) once per run and control plane:
they test the same code whatever the proxy mode, so running them again beside
every mode only slows every lane down. The host-kernel testbeds of a control
plane share them (``--neutral-share K/N``: each runs one share); a testbed in a
UML guest runs only the tests that need a proxy when a host testbed shares its
control plane. A testbed whose controllers are the user's own
(``spec.controllers`` mode external) is a control plane of its own.
``--profile full`` runs every test on every testbed. Side-effect-free.
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
    """pytest arguments for one testbed's suite, and who else judges its mode-neutral tests."""

    args: tuple[str, ...] = ()
    neutral_on: str = ""  # the testbeds that ran (the rest of) the mode-neutral tests, when not only this one

    @property
    def marker_expression(self) -> str:
        return self.args[self.args.index("-m") + 1] if "-m" in self.args[:-1] else ""


def plan_selections(testbeds: Sequence[TestbedTraits], *, profile: str, user_args: str = "") -> dict[Path, Selection]:
    """Each testbed's selection. A user's own ``-m`` in ``user_args`` is taken as it is, everywhere."""
    extra = tuple(user_args.split())
    if profile != "quick" or "-m" in extra:
        return {t.path: Selection(extra) for t in testbeds}
    planes: dict[Hashable, list[TestbedTraits]] = {}
    for t in testbeds:
        planes.setdefault(t.control_plane, []).append(t)
    plans = {}
    for members in planes.values():
        sharers = [t for t in members if not t.in_uml] or members
        names = [t.path.stem for t in sharers]
        for t in members:
            terms = [QUICK_SELECTION] + ([UML_LEAVES_OUT] if t.in_uml else [])
            share: tuple[str, ...] = ()
            if t not in sharers:
                terms.insert(0, NEEDS_PROXY)
            elif len(sharers) > 1:
                share = ("--neutral-share", f"{sharers.index(t)}/{len(sharers)}")
            others = [n for n in names if n != t.path.stem] if t in sharers else names
            note = "" if not others else ", ".join(names) if t not in sharers else "shared with " + ", ".join(others)
            plans[t.path] = Selection((*extra, *share, "-m", " and ".join(terms)), note)
    return plans
