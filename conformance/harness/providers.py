"""Which cluster the suite was asked for, and how it is opened.

A ``ClusterRef`` is one ``--testbed FILE``, ``--cluster NAME`` or
``--kubeconfig PATH`` / ``--kube-context NAME``. ``open_cluster(ref)`` is a
context manager around the cluster's time under test, through the provider
protocol (``svclab.testbed.provider``):

* ``--testbed FILE``: the spec's provider (``svclab.testbed.providers``)
  brings the cluster up as ``svclab up`` does and tears it down on leaving,
  also on failure; ``kubeconfig`` connects to the cluster of ``$KUBECONFIG``
  (default ``~/.kube/config``) with the spec's name, proxy mode and Service
  subnet, and leaves it as it was. A machine that cannot run the testbed at
  all (the provider's preflight: no root, no UML, no Docker, kind or kubectl)
  skips its tests with the reason.
* ``--cluster NAME``: a running cluster of that name (local, else a kind
  testbed ``svclab up`` brought up).
* ``--kubeconfig PATH`` / ``--kube-context NAME``: an existing cluster, tested
  as it is (``svclab.testbed.kubeconfig.connect``).

Each cluster's proxy mode for mode-specific checks is the one its proxies
report on ``/proxyMode`` (``svclab.testbed.proxy_mode``): ipvs that fell back to
iptables is tested as iptables.

What the user must fix (a bad spec, no such cluster, a cluster that does not
answer) fails the tests with one line. ``tear_down_leftovers`` is the safety
net at session end for whatever was brought up and not yet torn down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from harness.cluster import ClusterUnderTest
from svclab.testbed.provider import ClusterHandle, ProviderError
from svclab.testbed.providers import attach, provider_for
from svclab.testbed.proxy_mode import effective_proxy_mode
from svclab.testbed.spec import SpecError, load_spec

__all__ = ["ClusterRef", "open_cluster", "tear_down_leftovers"]

BRING_UP_TIMEOUT = 120.0  # per phase in a UML guest (boot is allowed on top)
FAILED_UP_LINES = 30  # of svclab up's progress (it ends with each component log's tail)
# Names this session brought up and has not torn down yet, each with its
# provider's tear_down, for the safety net.
_brought_up: dict[str, Callable[[str], object]] = {}


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """What ``--testbed FILE``, ``--cluster NAME`` or ``--kubeconfig PATH`` asked for."""

    testbed: str | None = None
    existing: str | None = None
    kubeconfig: str | None = None  # with context: None is $KUBECONFIG / ~/.kube/config
    context: str | None = None

    @property
    def id(self) -> str:
        if self.testbed:
            return Path(self.testbed).stem
        if self.existing is not None:
            return f"cluster-{self.existing}"
        return f"kubeconfig-{self.context}" if self.context else "kubeconfig"


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


@contextmanager
def open_cluster(ref: ClusterRef) -> Iterator[ClusterUnderTest]:
    """The cluster ``ref`` names, for the time the block runs (see the module docstring)."""
    if ref.existing is not None:
        yield _existing(ref.existing)
    elif ref.testbed is None:
        yield _connected(ref.kubeconfig, ref.context)
    else:
        with _testbed(ref.testbed) as under_test:
            yield under_test


def tear_down_leftovers() -> None:
    """Safety net at session end: whatever this session brought up goes down."""
    for name, down in sorted(_brought_up.items()):
        down(name)
    _brought_up.clear()


def _under_test(handle: ClusterHandle, option: str) -> ClusterUnderTest:
    """The cluster with the mode its proxies really run (a fallback changes it)."""
    try:
        record = handle.describe()
        return ClusterUnderTest(record, handle, effective_proxy_mode(handle, record))
    except (ProviderError, RuntimeError) as exc:
        _fail(f"{option}: {exc}")


def _existing(name: str) -> ClusterUnderTest:
    option = f"--cluster {name}"
    try:
        handle = attach(name)
    except ProviderError as exc:
        _fail(f"{option}: {exc}")
    if handle is None:
        _fail(f"{option}: no local cluster or kind testbed of that name is up (see `svclab list`)")
    return _under_test(handle, option)


def _connected(kubeconfig: str | None, context: str | None) -> ClusterUnderTest:
    from svclab.testbed.kubeconfig import connect

    try:
        handle = connect(kubeconfig, context=context)
    except ProviderError as exc:
        _fail(f"--kubeconfig: {exc}")
    return _under_test(handle, "--kubeconfig")


@contextmanager
def _testbed(spec_file: str) -> Iterator[ClusterUnderTest]:
    try:
        spec = load_spec(spec_file)
    except SpecError as exc:
        _fail(f"--testbed: {exc}")
    option = f"--testbed {spec_file}"
    provider = provider_for(spec.provider)
    problem = provider.preflight(spec)
    if problem is not None:
        pytest.skip(f"{option}: {problem}")
    lines: list[str] = []
    was_up = provider.attach(spec.name) is not None
    try:
        handle = provider.up(spec, progress=lines.append, timeout=BRING_UP_TIMEOUT)
    except ProviderError as exc:
        if not was_up:
            # What a failed bring-up of ours left (e.g. its tear-down was cut short)
            # goes, or a rerun would only learn "already up".
            provider.down(spec.name)
        _fail(f"{option}: {exc}" + "".join(f"\n  {line}" for line in lines[-FAILED_UP_LINES:]))
    with _held(handle.name, provider.down):
        yield _under_test(handle, option)


@contextmanager
def _held(name: str, down: Callable[[str], object]) -> Iterator[None]:
    """Tear ``name`` down on leaving; the safety net knows it meanwhile."""
    _brought_up[name] = down
    try:
        yield
    finally:
        down(name)
        _brought_up.pop(name, None)
