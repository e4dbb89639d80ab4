"""The provider protocol's shared pieces: one ExecResult, timeout status 124, lookup by kind."""

from __future__ import annotations

import sys

import pytest

from svclab.testbed.provider import TIMEOUT_STATUS, ExecResult, run_captured
from svclab.testbed.providers import provider_for
from svclab.testbed.spec import ProviderKind


def test_run_captured_passes_the_exit_status_and_output_on() -> None:
    done = run_captured(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], 30
    )
    assert done == ExecResult(3, "out\n", "err\n")
    with pytest.raises(AssertionError, match="exit status 3"):
        done.check()


def test_a_command_that_outlives_its_timeout_gives_status_124_like_timeout1() -> None:
    done = run_captured([sys.executable, "-c", "import time; print('begun', flush=True); time.sleep(30)"], 0.5)
    assert TIMEOUT_STATUS == 124
    assert done.rc == 124 and done.stdout == "begun\n" and "timed out after 0.5s" in done.stderr


@pytest.mark.parametrize("kind", list(ProviderKind))
def test_every_spec_provider_has_a_provider_of_that_kind(kind: ProviderKind) -> None:
    provider = provider_for(kind)
    assert provider.kind == kind.value
    assert provider.creates_clusters is (kind is not ProviderKind.KUBECONFIG)


def test_the_kubeconfig_provider_leaves_clusters_as_they_are() -> None:
    provider = provider_for("kubeconfig", kubeconfig="/nonexistent")
    assert provider.down("anything") is False and provider.attach("anything") is None
