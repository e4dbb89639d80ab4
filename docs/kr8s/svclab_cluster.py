"""pytest plugin: kr8s's cluster tests against an existing svclab cluster.

kr8s's wheel ships its tests (``kr8s/tests``) and a conftest, but the
``k8s_cluster`` fixture (a kind cluster, from pytest-kind) and ``ensure_gc``
come from its repository's own conftest. This stands in for both: the cluster
is the kubeconfig in $SVCLAB_KUBECONFIG (a copy of ``svclab up``'s), exported as
$KUBECONFIG for the tests that take the default.
"""

import gc
import os
import shutil
import subprocess
from pathlib import Path

import pytest


class Cluster:
    """The parts of pytest-kind's KindCluster the tests use."""

    def __init__(self, kubeconfig: str) -> None:
        self.name = "svclab"
        self.kubeconfig_path = Path(kubeconfig)
        self.kubectl_path = Path(shutil.which("kubectl") or "kubectl")

    def kubectl(self, *args: str, **kwargs) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig_path)}
        return subprocess.check_output([str(self.kubectl_path), *args], env=env, encoding="utf-8", **kwargs)


@pytest.fixture(scope="session", autouse=True)
def k8s_cluster():
    cluster = Cluster(os.environ["SVCLAB_KUBECONFIG"])
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig_path)
    yield cluster


@pytest.fixture
def ensure_gc():
    yield
    gc.collect()
