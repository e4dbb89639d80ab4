"""Fault requests and the node commands every provider shares (pure, no root).

Address plan: the API server at 172.18.0.2:6443 (a local cluster's control-plane
node), nodes ``n1``/``n2``.
"""

from __future__ import annotations

import pytest

from svclab.testbed.faults import (
    FaultAction,
    FaultError,
    FaultRequest,
    FaultUnavailable,
    cut_off_command,
    heal_command,
    parse_fault,
    rules_flush_command,
    run_fault,
)


@pytest.mark.parametrize(
    ("action", "target", "seconds", "message"),
    [
        ("explode", "n1", None, "unknown fault 'explode' (one of: kill, stop, continue,"),
        ("kill", None, None, "kill needs a target: a component"),
        ("cut-off", "", None, "cut-off needs a target: a node"),
        ("kill", "apiserver", 5.0, "--for only goes with stop or cut-off, not kill"),
        ("stop", "apiserver", 0.0, "--for must be positive, got 0"),
    ],
    ids=["unknown-action", "kill-without-target", "cut-off-without-node", "for-with-kill", "for-zero"],
)
def test_parse_fault_rejects_with_one_line(
    action: str, target: str | None, seconds: float | None, message: str
) -> None:
    with pytest.raises(FaultError) as caught:
        parse_fault(action, target, seconds)
    assert str(caught.value).startswith(message)
    assert caught.value.status == 2


def test_parse_fault_and_its_undo() -> None:
    assert parse_fault("kill", "proxy-n1") == FaultRequest(FaultAction.KILL, "proxy-n1")
    stop = parse_fault("stop", "apiserver", 10)
    assert stop.undo == FaultRequest(FaultAction.CONTINUE, "apiserver")
    assert parse_fault("cut-off", "n1", 2.5).undo == FaultRequest(FaultAction.HEAL, "n1")
    assert parse_fault("cut-off", "n1").undo is None  # without --for it stays until `heal`


@pytest.mark.parametrize(
    ("mode", "script"),
    [
        ("iptables", "printf '*mangle\\nCOMMIT\\n*nat\\nCOMMIT\\n*filter\\nCOMMIT\\n' | iptables-restore -w"),
        ("userspace", "printf '*mangle\\nCOMMIT\\n*nat\\nCOMMIT\\n*filter\\nCOMMIT\\n' | iptables-restore -w"),
        ("ipvs", "ipvsadm -C && printf '*mangle\\nCOMMIT\\n*nat\\nCOMMIT\\n*filter\\nCOMMIT\\n' | iptables-restore -w"),
        ("nftables", "nft delete table ip kube-proxy"),
    ],
)
def test_rules_flush_command_per_mode(mode: str, script: str) -> None:
    assert rules_flush_command(mode) == ["sh", "-c", script]


def test_rules_flush_command_inside_uml_uses_the_legacy_binary() -> None:
    assert "| iptables-legacy-restore -w" in rules_flush_command("ipvs", iptables="iptables-legacy")[2]
    with pytest.raises(FaultUnavailable, match="proxy mode ebpf has no rules"):
        rules_flush_command("ebpf")


def test_cut_off_and_heal_with_nft_use_a_table_of_their_own() -> None:
    assert cut_off_command("172.18.0.2", 6443) == [
        "nft",
        "add table ip svclab-fault; "
        "add chain ip svclab-fault output { type filter hook output priority -300; policy accept; }; "
        "add rule ip svclab-fault output ip daddr 172.18.0.2 tcp dport 6443 drop",
    ]
    assert heal_command("172.18.0.2", 6443) == ["sh", "-c", "nft delete table ip svclab-fault 2>/dev/null || true"]


def test_cut_off_and_heal_with_iptables_add_and_remove_one_marked_rule() -> None:
    rule = "OUTPUT -d 172.18.0.2 -p tcp --dport 6443 -m comment --comment svclab-fault -j DROP"
    assert " ".join(cut_off_command("172.18.0.2", 6443, nft=False, iptables="iptables-legacy")) == (
        f"iptables-legacy -w -I {rule}"
    )
    heal = heal_command("172.18.0.2", 6443, nft=False)
    assert heal == ["sh", "-c", f"while iptables -w -D {rule} 2>/dev/null; do :; done"]


class RecordingHandle:
    def __init__(self) -> None:
        self.done: list[FaultRequest] = []

    def fault(self, request: FaultRequest) -> str:
        self.done.append(request)
        return f"{request.action.value} {request.target}"


def test_run_fault_undoes_after_the_wait_and_reports_each_step() -> None:
    handle, waited, reported = RecordingHandle(), list[float](), list[str]()
    lines = run_fault(handle, parse_fault("cut-off", "n1", 3), sleep=waited.append, report=reported.append)
    assert lines == reported == ["cut-off n1", "heal n1"]
    assert waited == [3]


def test_run_fault_undoes_even_when_the_wait_is_interrupted() -> None:
    handle = RecordingHandle()

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_fault(handle, parse_fault("stop", "apiserver", 10), sleep=interrupted)
    assert [r.action for r in handle.done] == [FaultAction.STOP, FaultAction.CONTINUE]


def test_run_fault_without_duration_does_one_thing() -> None:
    handle = RecordingHandle()

    def no_wait(seconds: float) -> None:
        pytest.fail(f"waited {seconds}s")

    assert run_fault(handle, parse_fault("kill", "apiserver"), sleep=no_wait) == ["kill apiserver"]


def test_a_cluster_tested_as_it_is_has_no_fault_hooks() -> None:
    from pathlib import Path

    from svclab.testbed.kubeconfig import KubeconfigCluster

    cluster = KubeconfigCluster("prod", "kubeconfig", Path("/k"), "kubectl", "unknown", None)
    with pytest.raises(FaultUnavailable) as caught:
        cluster.fault(parse_fault("kill", "apiserver"))
    assert str(caught.value) == (
        "kill apiserver: fault injection is not available on prod "
        "(provider kubeconfig: svclab neither runs its components nor reaches its nodes)"
    )
