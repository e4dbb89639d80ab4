"""Which provider serves a cluster the suite was asked for, and how it is opened.

A ``ClusterRef`` is one ``--testbed FILE``, ``--cluster NAME`` or
``--kubeconfig PATH`` / ``--kube-context NAME``. ``open_cluster(ref)`` is a
context manager around the cluster's time under test:

* ``--testbed FILE``: the spec's provider decides. ``local`` and ``kind``
  bring the cluster up (``svclab.testbed.local.cluster.bring_up``, as ``svclab
  up`` does; ``svclab.testbed.kind.cluster.bring_up``) and tear it down on
  leaving, also on failure; ``kubeconfig`` connects to the cluster of
  ``$KUBECONFIG`` (default ``~/.kube/config``) with the spec's name, proxy mode
  and Service subnet, and leaves it as it was.
* ``--cluster NAME``: a local cluster that is up, else a kind testbed that
  ``svclab up`` brought up (``svclab.testbed.kind.cluster.handle``).
* ``--kubeconfig PATH`` / ``--kube-context NAME``: an existing cluster, tested
  as it is (``svclab.testbed.kubeconfig.connect``).

What the user must fix (a bad spec, no such cluster, a cluster that does not
answer) fails the tests with one line; a machine that cannot run a kind
testbed at all (no Docker, kind or kubectl) skips them with the preflight's
reason. ``tear_down_leftovers`` is the safety net at session end for whatever
was brought up and not yet torn down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from harness.cluster import ClusterUnderTest, local_cluster
from harness.real_cluster import describe
from svclab.testbed.kubeconfig import ClusterHandle, KubeconfigError
from svclab.testbed.local.cluster import ClusterHandle as LocalClusterHandle
from svclab.testbed.local.cluster import bring_up, read_cluster, tear_down
from svclab.testbed.spec import ProviderKind, SpecError, Testbed, load_spec

__all__ = ["ClusterRef", "open_cluster", "tear_down_leftovers"]

BRING_UP_TIMEOUT = 120.0  # per phase in a UML guest (boot is allowed on top)
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


def _described(handle: ClusterHandle, option: str) -> ClusterUnderTest:
    try:
        return describe(handle)
    except KubeconfigError as exc:
        _fail(f"{option}: {exc}")


def _existing(name: str) -> ClusterUnderTest:
    try:
        return local_cluster(read_cluster(name))
    except FileNotFoundError:
        pass
    from svclab.testbed.kind import cluster as kind
    from svclab.testbed.kind.tools import KindError

    if kind.kubeconfig_path(name) is None:
        _fail(f"--cluster {name}: no local cluster or kind testbed of that name is up (see `svclab list`)")
    try:
        handle = kind.handle(name)
    except KindError as exc:
        _fail(f"--cluster {name}: kind testbed: {exc}")
    return _described(handle, f"--cluster {name}")


def _connected(kubeconfig: str | None, context: str | None) -> ClusterUnderTest:
    from svclab.testbed.kubeconfig import connect

    try:
        handle = connect(kubeconfig, context=context)
    except KubeconfigError as exc:
        _fail(f"--kubeconfig: {exc}")
    return _described(handle, "--kubeconfig")


@contextmanager
def _testbed(spec_file: str) -> Iterator[ClusterUnderTest]:
    try:
        spec = load_spec(spec_file)
    except SpecError as exc:
        _fail(f"--testbed: {exc}")
    option = f"--testbed {spec_file}"
    if spec.provider is ProviderKind.KUBECONFIG:
        from svclab.testbed.kubeconfig import from_spec

        try:
            existing = from_spec(spec)
        except KubeconfigError as exc:
            _fail(f"{option}: {exc}")
        yield _described(existing, option)
        return
    if spec.provider is ProviderKind.LOCAL:
        local = _bring_up_local(spec_file)
        with _held(local.name, tear_down):
            yield local_cluster(local.info)
        return
    from svclab.testbed.kind import cluster as kind

    handle = _bring_up_kind(spec, option)
    with _held(handle.name, kind.tear_down):
        yield _described(handle, option)


@contextmanager
def _held(name: str, down: Callable[[str], object]) -> Iterator[None]:
    """Tear ``name`` down on leaving; the safety net knows it meanwhile."""
    _brought_up[name] = down
    try:
        yield
    finally:
        down(name)
        _brought_up.pop(name, None)


def _bring_up_local(spec_file: str) -> LocalClusterHandle:
    if os.geteuid() != 0:
        _fail(f"--testbed {spec_file}: the local provider needs root")
    from svclab.testbed.local.cluster import UpError

    try:
        return bring_up(spec_file, progress=lambda line: None, timeout=BRING_UP_TIMEOUT)
    except (SpecError, UpError) as exc:
        _fail(f"--testbed: {exc}")


def _bring_up_kind(spec: Testbed, option: str) -> ClusterHandle:
    from svclab.testbed.kind import cluster as kind
    from svclab.testbed.kind.tools import KindError, preflight

    problem = preflight(spec)
    if problem is not None:
        pytest.skip(f"{option}: {problem}")
    try:
        return kind.bring_up(spec, progress=lambda line: None)
    except KindError as exc:
        _fail(f"{option}: {exc}")
