"""svclab.kube's public surface: a complete, sorted __all__, and make_client."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from lightkube import AsyncClient, ConfigError

import svclab.kube as kube

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns9}}]
current-context: x
"""


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(kube).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert kube.__all__ == sorted(kube.__all__)
    assert set(kube.__all__) == public


def test_make_client_reads_the_given_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    client = kube.make_client(str(path), field_manager="tester")
    assert isinstance(client, AsyncClient)
    assert client.namespace == "ns9"
    assert client.config.cluster.server == "https://127.0.0.1:6443"


def test_make_client_uses_kubeconfig_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert kube.make_client().namespace == "ns9"


def test_make_client_without_config_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError):
        kube.make_client(str(tmp_path / "missing"))
