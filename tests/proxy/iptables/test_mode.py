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
