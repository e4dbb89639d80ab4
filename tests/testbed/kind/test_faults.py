"""The kind provider's fault commands (pure: nothing runs; no Docker here).

Address plan: cluster ``k`` with nodes ``k-control-plane``, ``k-worker``,
``k-worker2``; the control-plane container at 172.19.0.2 (API server :6443).
"""

from __future__ import annotations

import pytest

from svclab.testbed.faults import FaultError, FaultUnavailable, parse_fault
from svclab.testbed.kind.faults import fault_commands

NODES = ("k-control-plane", "k-worker", "k-worker2")
KUBECTL = ("kubectl", "--kubeconfig", "/k")
FORCE = ["--grace-period=0", "--force", "--wait=false"]


def commands(action: str, target: str, mode: str = "iptables") -> list[list[str]]:
    return fault_commands(
        parse_fault(action, target),
        nodes=NODES,
        control_plane="k-control-plane",
        mode=mode,
        apiserver_ip="172.19.0.2",
        kubectl=KUBECTL,
    )


def test_killing_a_proxy_force_deletes_its_daemonset_pod_on_that_node() -> None:
    assert commands("kill", "proxy-k-worker") == [
        [
            *KUBECTL,
            "-n",
            "kube-system",
            "delete",
            "pod",
            "-l",
            "app.kubernetes.io/name=svclab,app.kubernetes.io/component=proxy",
            "--field-selector",
            "spec.nodeName=k-worker",
            *FORCE,
        ]
    ]


def test_killing_the_controller_manager_deletes_its_pods() -> None:
    (argv,) = commands("kill", "controller-manager")
    assert argv[-5:] == ["-l", "app.kubernetes.io/name=svclab,app.kubernetes.io/component=controller-manager", *FORCE]


def test_killing_static_pods_and_the_kubelet_goes_through_the_node_container() -> None:
    assert commands("kill", "apiserver") == [
        [
            "docker",
            "exec",
            "k-control-plane",
            "sh",
            "-c",
            "crictl ps -q --name kube-apiserver | xargs -r crictl stop --timeout 0",
        ]
    ]
    assert commands("kill", "node-agent-k-worker2") == [
        ["docker", "exec", "k-worker2", "systemctl", "kill", "--signal=SIGKILL", "kubelet"]
    ]


def test_stop_and_continue_pause_a_whole_node_container() -> None:
    assert commands("stop", "k-worker") == [["docker", "pause", "k-worker"]]
    assert commands("continue", "k-worker") == [["docker", "unpause", "k-worker"]]
    with pytest.raises(FaultUnavailable, match="kind cannot stop one component"):
        commands("stop", "apiserver")


def test_node_faults_run_the_shared_commands_in_the_node_container() -> None:
    assert commands("flush-rules", "k-worker", mode="nftables") == [
        ["docker", "exec", "k-worker", "sh", "-c", "nft delete table ip kube-proxy"]
    ]
    assert commands("flush-conntrack", "k-worker") == [["docker", "exec", "k-worker", "conntrack", "-F"]]
    (cut,) = commands("cut-off", "k-worker")
    assert cut[:6] == ["docker", "exec", "k-worker", "iptables", "-w", "-I"]
    assert "172.19.0.2" in cut and "6443" in cut


def test_unknown_targets_are_named() -> None:
    with pytest.raises(FaultError, match="no node k-worker9"):
        commands("flush-rules", "k-worker9")
    with pytest.raises(FaultError, match="no component proxy-k-worker9"):
        commands("kill", "proxy-k-worker9")
