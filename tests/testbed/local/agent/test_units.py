"""Unit tests for the node agent's pure parts: IPAM, argv, backoff, probes, pod status.

Address plan: pod CIDR 10.244.1.0/24 (gateway 10.244.1.1 on cni0, pods from
10.244.1.2), and the tiny 10.244.9.0/30 with room for exactly one pod.
"""

from __future__ import annotations

import concurrent.futures
import sys
from pathlib import Path
from typing import Any

import pytest

import svclab
from svclab.testbed.local.agent.containers import IMAGE_NOT_SUPPORTED, container_argv, container_env, restart_delay
from svclab.testbed.local.agent.ipam import IPAllocator, PodCIDRExhausted
from svclab.testbed.local.agent.node import NodeOptions, node_manifest, node_status, parse_labels, parse_taints
from svclab.testbed.local.agent.podworker import grace_after_hook, pre_stop_command
from svclab.testbed.local.agent.probes import ProbeKind, ProbeSettings, ProbeTracker, resolve_port
from svclab.testbed.local.agent.status import ContainerView, RunState, SandboxFacts, pod_phase, pod_status

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


# --- IPAM -------------------------------------------------------------------------------


def test_ipam_skips_network_gateway_and_broadcast() -> None:
    ipam = IPAllocator("10.244.9.0/30")
    assert str(ipam.allocate("a")) == "10.244.9.2"
    with pytest.raises(PodCIDRExhausted):
        ipam.allocate("b")


def test_ipam_is_stable_per_key_and_reuses_released() -> None:
    ipam = IPAllocator("10.244.1.0/24")
    first, second = ipam.allocate("a"), ipam.allocate("b")
    assert (str(first), str(second)) == ("10.244.1.2", "10.244.1.3")
    assert ipam.allocate("a") == first
    ipam.release("a")
    assert str(ipam.allocate("c")) == "10.244.1.2"


def test_ipam_reserve_rejects_gateway_and_taken() -> None:
    ipam = IPAllocator("10.244.1.0/24")
    ipam.reserve("a", "10.244.1.7")
    with pytest.raises(ValueError):
        ipam.reserve("b", "10.244.1.1")
    with pytest.raises(ValueError):
        ipam.reserve("b", "10.244.1.7")
    assert str(ipam.allocate("b")) == "10.244.1.2"


def test_ipam_hands_distinct_addresses_to_concurrent_callers() -> None:
    # pod workers build sandboxes on threads; a race once gave two pods one address
    ipam = IPAllocator("10.244.0.0/20")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            addresses = list(pool.map(ipam.allocate, (f"pod-{i}" for i in range(800))))
    finally:
        sys.setswitchinterval(interval)
    assert len(set(addresses)) == 800
    assert len(ipam.in_use()) == 800


# --- what a container runs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"image": AGNHOST, "args": ["netexec", "--http-port=8080"]}, ["netexec", "--http-port=8080"]),
        ({"image": AGNHOST, "command": ["/agnhost", "serve-hostname"]}, ["serve-hostname"]),
    ],
    ids=["agnhost-args", "agnhost-command"],
)
def test_builtin_images_run_agnhost(container: dict[str, Any], expected: list[str]) -> None:
    launch = container_argv({"name": "c", **container}, {})
    assert launch.argv == (sys.executable, "-m", "svclab.testbed.local.agnhost", *expected)
    # the agent's own svclab, not the interpreter's installed one (a worktree on PYTHONPATH)
    assert dict(launch.extra_env) == {"PYTHONPATH": str(Path(svclab.__file__).resolve().parent.parent)}


@pytest.mark.parametrize(
    "container",
    [
        {"image": AGNHOST},
        {"image": AGNHOST, "args": ["pause"]},
        {"image": "registry.k8s.io/pause:3.10"},
        {"image": "gcr.io/google_containers/pause"},  # the old name client libraries' tests still use
    ],
    ids=["agnhost-bare", "agnhost-pause", "pause-image", "old-pause-image"],
)
def test_pause_is_a_shell_that_exits_0_on_sigterm(container: dict[str, Any]) -> None:
    import signal
    import subprocess
    import time

    argv = container_argv({"name": "c", **container}, {}).argv
    assert argv[0] == "/bin/sh"
    proc = subprocess.Popen(argv)
    try:
        time.sleep(0.2)  # let the shell install its trap; the outcome does not depend on timing
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_command_and_args_are_expanded_from_env() -> None:
    container = {"name": "c", "image": "busybox", "command": ["sh", "-c"], "args": ["echo $(GREETING) $$(X)"]}
    assert container_argv(container, {"GREETING": "hi"}).argv == ("sh", "-c", "echo hi $(X)")


def test_image_without_command_is_not_supported() -> None:
    launch = container_argv({"name": "c", "image": "redis:7.4"}, {})
    assert launch.argv == () and launch.reason == IMAGE_NOT_SUPPORTED
    assert "redis:7.4" in launch.message


def test_env_values_and_downward_api_fields() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns1", "uid": "u1"}, "spec": {"nodeName": "n1"}}
    container = {
        "env": [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "$(A)2"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ]
    }
    env = container_env(container, pod, ["10.244.1.2"], ["172.18.0.3"])
    assert (env["A"], env["B"], env["IP"], env["NODE"], env["HOSTNAME"]) == ("1", "12", "10.244.1.2", "n1", "web")


@pytest.mark.parametrize(("restarts", "delay"), [(0, 0), (1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (20, 300)])
def test_crash_loop_backoff(restarts: int, delay: float) -> None:
    assert restart_delay(restarts) == delay


# --- probes (fake clock: plain numbers) -----------------------------------------------------


def test_readiness_waits_initial_delay_then_needs_success_threshold() -> None:
    tracker = ProbeTracker(ProbeKind.READINESS, ProbeSettings(initial_delay=5, period=2, success_threshold=2), 100.0)
    assert not tracker.ok and not tracker.due(104.9) and tracker.due(105.0)
    assert tracker.record(True, 105.0) is False and not tracker.ok
    assert tracker.next_due() == 107.0
    assert tracker.record(True, 107.0) is True and tracker.ok


def test_readiness_flips_back_after_failure_threshold() -> None:
    tracker = ProbeTracker(ProbeKind.READINESS, ProbeSettings(failure_threshold=3), 0.0)
    tracker.record(True, 0.0)
    assert tracker.ok
    assert [tracker.record(False, t) for t in (10.0, 20.0)] == [False, False]
    tracker.record(True, 30.0)  # a success resets the failure count
    assert [tracker.record(False, t) for t in (40.0, 50.0, 60.0)] == [False, False, True]
    assert not tracker.ok


def test_liveness_starts_ok() -> None:
    tracker = ProbeTracker(ProbeKind.LIVENESS, ProbeSettings(failure_threshold=1), 0.0)
    assert tracker.ok and tracker.record(False, 0.0) and not tracker.ok


def test_probe_defaults_and_named_ports() -> None:
    assert ProbeSettings.from_spec({}) == ProbeSettings(0, 10, 1, 1, 3)
    container = {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080 and resolve_port(81, container) == 81
    with pytest.raises(ValueError):
        resolve_port("nope", container)


# --- pod status -------------------------------------------------------------------------


def _view(state: RunState, **kw: Any) -> ContainerView:
    return ContainerView("c", AGNHOST, state, **kw)


@pytest.mark.parametrize(
    ("views", "policy", "phase"),
    [
        ([_view(RunState.WAITING, reason="ContainerCreating")], "Always", "Pending"),
        ([_view(RunState.RUNNING)], "Never", "Running"),
        ([_view(RunState.TERMINATED, exit_code=0)], "Never", "Succeeded"),
        ([_view(RunState.TERMINATED, exit_code=1)], "Never", "Failed"),
        ([_view(RunState.TERMINATED, exit_code=1)], "OnFailure", "Running"),
        ([_view(RunState.TERMINATED, exit_code=0)], "Always", "Running"),
        ([_view(RunState.WAITING, last_terminated=(1, "Error", T0, T1))], "Always", "Running"),
    ],
    ids=["creating", "running", "succeeded", "failed", "onfailure-retries", "always-restarts", "crashloop"],
)
def test_phase(views: list[ContainerView], policy: str, phase: str) -> None:
    assert pod_phase(views, policy).value == phase


def _pod(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c"}]},
        "status": status or {},
    }


def test_running_ready_pod_status() -> None:
    facts = SandboxFacts("10.244.1.2", "172.18.0.3", T0)
    status = pod_status(_pod(), [_view(RunState.RUNNING, pid=42, started_at=T0, ready=True)], facts, T1)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Running" and status["podIP"] == "10.244.1.2"
    assert status["podIPs"] == [{"ip": "10.244.1.2"}] and status["hostIPs"] == [{"ip": "172.18.0.3"}]
    assert {k: c["status"] for k, c in conditions.items()} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    (cs,) = status["containerStatuses"]
    assert cs["containerID"] == "svclab://42" and cs["state"] == {"running": {"startedAt": T0}}
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0


def test_unready_reason_and_transition_time_kept() -> None:
    old = {
        "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": T0},
            {"type": "Initialized", "status": "True", "lastTransitionTime": T0},
        ]
    }
    status = pod_status(_pod(old), [_view(RunState.RUNNING, started_at=T0)], None, T1)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["reason"] == "ContainersNotReady"
    assert conditions["Ready"]["message"] == "containers with unready status: [c]"
    assert conditions["Ready"]["lastTransitionTime"] == T0
    assert conditions["Initialized"]["lastTransitionTime"] == T0
    assert conditions["PodScheduled"]["lastTransitionTime"] == T1


def test_restarted_container_shows_last_state() -> None:
    view = _view(
        RunState.WAITING,
        reason="CrashLoopBackOff",
        message="back-off 10s",
        restart_count=2,
        last_terminated=(3, "Error", T0, T1),
    )
    (cs,) = pod_status(_pod(), [view], None, T1)["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 2


def test_completed_pod_is_not_ready() -> None:
    pod = {**_pod(), "spec": {"containers": [{"name": "c"}], "restartPolicy": "Never"}}
    status = pod_status(pod, [_view(RunState.TERMINATED, exit_code=0, started_at=T0, finished_at=T1)], None, T1)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert status["phase"] == "Succeeded" and ready["reason"] == "PodCompleted"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


# --- node -------------------------------------------------------------------------------


def test_node_labels_taints_and_status() -> None:
    options = NodeOptions(
        "c1-control-plane",
        "172.18.0.2",
        "10.244.0.0/24",
        labels=parse_labels("node-role.kubernetes.io/control-plane=,topology.kubernetes.io/zone=z1"),
        taints=parse_taints("node-role.kubernetes.io/control-plane:NoSchedule"),
    )
    node = node_manifest(options)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "c1-control-plane"
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert node["spec"] == {
        "podCIDR": "10.244.0.0/24",
        "podCIDRs": ["10.244.0.0/24"],
        "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    }
    status = node_status(options, T1, {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T0}]})
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("KubeletReady", "kubelet is posting ready status")
    assert ready["lastTransitionTime"] == T0 and ready["lastHeartbeatTime"] == T1
    assert status["addresses"][0] == {"type": "InternalIP", "address": "172.18.0.2"}
    assert status["capacity"]["pods"] == "110"


def test_bad_taint_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_taints("key=value:Sometimes")


def test_pre_stop_command_and_the_grace_left_after_it() -> None:
    hooked = {"name": "c", "lifecycle": {"preStop": {"exec": {"command": ["/bin/sleep", 100]}}}}
    assert pre_stop_command(hooked) == ["/bin/sleep", "100"]
    assert pre_stop_command({"name": "c"}) == []
    assert pre_stop_command({"lifecycle": {"preStop": {"httpGet": {"port": 80}}}}) == []
    assert grace_after_hook(30.0, 10.0) == 20.0
    assert grace_after_hook(30.0, 29.5) == 2.0  # kubelet's minimum after a hook
