"""The kubeconfig provider: an existing cluster reached through kubectl only.

A stand-in ``kubectl`` (tmp dir first on PATH) appends its argv to a log and
answers ``version`` (exit 1 with the real message when ``FAKE_APISERVER=down``)
and ``exec`` (echoes the command, exit status from ``FAKE_EXEC_RC``). The
kubeconfig is a tmp file; nothing contacts a cluster.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from svclab.testbed.kubeconfig import (
    NO_NODE_ACCESS_REASON,
    KubeconfigError,
    NodeAccessUnavailable,
    connect,
    from_spec,
)
from svclab.testbed.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
REFUSED = "The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?"

FAKE_KUBECTL = f"""#!{sys.executable} -S
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if "version" in args and os.environ.get("FAKE_APISERVER") == "down":
    sys.exit(print({REFUSED!r}, file=sys.stderr) or 1)
if "exec" in args:
    print("out: " + " ".join(args[args.index("--") + 1:]))
    sys.exit(int(os.environ.get("FAKE_EXEC_RC", "0")))
"""


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    log = tmp_path / "kubectl.jsonl"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("FAKE_APISERVER", raising=False)
    monkeypatch.delenv("FAKE_EXEC_RC", raising=False)
    return log


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "prod.kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\n")
    return path


def logged(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_connect_checks_the_cluster_answers(kubectl_log: Path, kubeconfig: Path) -> None:
    handle = connect(kubeconfig, context="prod")
    assert logged(kubectl_log) == [
        [f"--kubeconfig={kubeconfig}", "--context=prod", "version", "--output=json", "--request-timeout=20s"]
    ]
    assert (handle.provider, handle.name, handle.proxy_mode) == ("kubeconfig", "prod", "unknown")
    assert handle.has_proxy and handle.has_controllers  # the cluster's own, judged as they are


def test_a_cluster_that_does_not_answer_is_one_line(
    kubectl_log: Path, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_APISERVER", "down")
    with pytest.raises(KubeconfigError) as caught:
        connect(kubeconfig)
    assert str(caught.value) == f"cluster of {kubeconfig} does not answer: {REFUSED}"


def test_a_missing_kubeconfig_or_kubectl_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig: Path
) -> None:
    with pytest.raises(KubeconfigError, match=r"kubeconfig .*nowhere does not exist"):
        connect(tmp_path / "nowhere")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(KubeconfigError, match="kubectl not found on PATH; install it from"):
        connect(kubeconfig)


def test_kubeconfig_defaults_to_the_environment(
    kubectl_log: Path, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{kubeconfig}{os.pathsep}/elsewhere")
    assert connect(check=False).kubeconfig == kubeconfig.resolve()
    assert logged(kubectl_log) == []


def test_exec_in_pod_goes_through_kubectl_exec(
    kubectl_log: Path, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = connect(kubeconfig, check=False)
    result = handle.exec_in_pod("ns1", "client", ["wget", "-qO-", "http://svc1"], container="main")
    assert (result.rc, result.stdout) == (0, "out: wget -qO- http://svc1\n")
    assert logged(kubectl_log)[-1] == [
        f"--kubeconfig={kubeconfig}",
        "exec",
        "-n",
        "ns1",
        "client",
        "-c",
        "main",
        "--",
        "wget",
        "-qO-",
        "http://svc1",
    ]
    monkeypatch.setenv("FAKE_EXEC_RC", "7")
    failed = handle.exec_in_pod("ns1", "client", ["false"])
    assert failed.rc == 7
    with pytest.raises(AssertionError, match="exit status 7"):
        failed.check()


def test_node_hooks_are_unavailable_with_a_reason(kubeconfig: Path) -> None:
    handle = connect(kubeconfig, check=False)
    assert handle.node_access is False
    assert handle.node_access_reason == NO_NODE_ACCESS_REASON
    with pytest.raises(NodeAccessUnavailable, match="node worker-1: the kubeconfig provider has no"):
        handle.exec_on_node("worker-1", ["iptables-save"])


def test_from_spec_takes_name_mode_and_subnet(kubeconfig: Path) -> None:
    spec = load_spec(REPO / "clusters" / "kind-nftables.yaml")
    handle = from_spec(spec, kubeconfig, check=False)
    assert (handle.name, handle.proxy_mode, handle.service_subnet) == ("kind-nftables", "nftables", "10.96.0.0/16")
