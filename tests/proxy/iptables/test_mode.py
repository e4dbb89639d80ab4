"""The iptables mode's builder: ``--conntrack-tcp-be-liberal`` and the sysctl it reads, as upstream."""

from __future__ import annotations

import argparse
from pathlib import Path

from svclab.proxy.command import add_arguments
from svclab.proxy.iptables.mode import conntrack_tcp_be_liberal


def test_flag_sets_the_sysctl_and_drops_the_rule(tmp_path: Path) -> None:
    sysctl = tmp_path / "nf_conntrack_tcp_be_liberal"
    sysctl.write_text("0\n")
    assert conntrack_tcp_be_liberal(True, sysctl)
    assert sysctl.read_text().strip() == "1"


def test_without_flag_the_sysctl_decides(tmp_path: Path) -> None:
    sysctl = tmp_path / "nf_conntrack_tcp_be_liberal"
    sysctl.write_text("0\n")
    assert not conntrack_tcp_be_liberal(False, sysctl)
    sysctl.write_text("1\n")  # set by someone else: upstream's NewProxier honours it too
    assert conntrack_tcp_be_liberal(False, sysctl)


def test_missing_sysctl_keeps_the_drop_rule(tmp_path: Path) -> None:
    assert not conntrack_tcp_be_liberal(True, tmp_path / "absent" / "nf_conntrack_tcp_be_liberal")


def test_svclab_proxy_accepts_the_flag() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--conntrack-tcp-be-liberal"]).conntrack_tcp_be_liberal
    assert not parser.parse_args([]).conntrack_tcp_be_liberal


def test_dispatch_position_counts_the_rules_a_packet_is_tested_against() -> None:
    """Upstream's overall ruleset: the nat KUBE-SERVICES, not the filter table's chain of the same name."""
    from svclab.proxy.iptables.dump import dispatch_position

    from ..conftest import GOLDEN

    text = (GOLDEN / "iptables" / "overall.rules").read_text()
    assert dispatch_position(text, "172.30.0.41", 80) == (1, 10)
    assert dispatch_position(text, "172.30.0.45", 80) == (8, 10)
    assert dispatch_position(text, "172.30.0.46", 80) is None  # no endpoints: a REJECT in filter only
    assert dispatch_position(text, "172.30.0.4", 80) is None and dispatch_position(text, "172.30.0.41", 8) is None
    saved = "*nat\n-A KUBE-SERVICES -d 10.96.0.9/32 -p tcp -m tcp --dport 8080 -j KUBE-SVC-X\nCOMMIT\n"
    assert dispatch_position(saved, "10.96.0.9", 8080) == (1, 1)
