"""Real-kernel check of the iptables mode: its rules load into iptables-restore, partial syncs apply.

Runs only as root, inside a throwaway network namespace (the ``netns`` fixture
of ``tests/proxy/conftest.py``), deleted afterwards. Never touches the root
namespace. Address plan: see ``builders.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from svclab.proxy.adapters.iptables import SubprocessIptables
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_OPTIONS, TEST_NODE_OPTIONS_V6, endpoint, endpoint_slice
from ..helpers import ManualClock, load_overall

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"),
]


def _in_ns(ns: str, *cmd: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="no iptables")
async def test_iptables_rules_load_and_partial_sync_applies(netns: str) -> None:
    executor = SubprocessIptables(prefix=("ip", "netns", "exec", netns))
    # nfacct needs its counters created first; the kernel check is about layout
    backend = IptablesProxier(executor, PlanOptions(node=TEST_NODE_OPTIONS, nfacct=False))
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock()))
    load_overall(proxier)
    await proxier.sync()
    saved = _in_ns(netns, "iptables-save", "-t", "nat")
    assert "-A KUBE-SVC-XPGD46QRK7WJZT7O" in saved
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    await proxier.sync()
    saved = _in_ns(netns, "iptables-save", "-t", "nat")
    assert "10.180.0.9:80" in saved and "KUBE-SEP-SXIVWICOYRO3J4NJ" not in saved
    backend.cleanup()
    assert "KUBE-SVC" not in _in_ns(netns, "iptables-save", "-t", "nat")


FOREIGN = [
    ("filter", "-A INPUT -j ACCEPT"),
    ("filter", "-N DOCKER-USER"),
    ("filter", "-A FORWARD -j DOCKER-USER"),
    ("filter", "-A DOCKER-USER -s 10.99.0.0/16 -j DROP"),
    ("nat", "-N DOCKER"),
    ("nat", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
    ("nat", "-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"),
]


def _saved(ns: str) -> list[str]:
    """Both tables as iptables-save prints them, without the dated comment lines."""
    text = _in_ns(ns, "iptables-save", "-t", "filter") + _in_ns(ns, "iptables-save", "-t", "nat")
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="no iptables")
async def test_whole_table_full_sync_keeps_foreign_rules(netns: str) -> None:
    for table, rule in FOREIGN:
        _in_ns(netns, "iptables", "-w", "-t", table, *rule.split())
    _in_ns(netns, "iptables", "-w", "-R", "INPUT", "1", "-c", "5", "700", "-j", "ACCEPT")  # counters to keep
    executor = SubprocessIptables(prefix=("ip", "netns", "exec", netns))
    backend = IptablesProxier(executor, PlanOptions(node=TEST_NODE_OPTIONS, nfacct=False))
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock()))
    _in_ns(netns, "iptables", "-w", "-t", "nat", "-N", "KUBE-SEP-STALESTALESTALE")  # left by an earlier run
    load_overall(proxier)
    assert (await proxier.sync()).full
    assert backend.last_restore.startswith("*filter\n:INPUT ACCEPT")  # a whole-table restore
    first = _saved(netns)
    for table, rule in FOREIGN:
        if rule.startswith("-A"):
            assert rule in first, (table, rule)
    assert "KUBE-SEP-STALESTALESTALE" not in "\n".join(first)
    assert "[5:700] -A INPUT -j ACCEPT" in _in_ns(netns, "iptables-save", "-c", "-t", "filter")
    assert sum(ln.endswith("-j KUBE-SERVICES") for ln in first) == 4  # filter FORWARD/OUTPUT, nat PREROUTING/OUTPUT
    backend.need_full_sync = True
    await proxier.sync()
    assert _saved(netns) == first  # a second full sync changes nothing: no doubled jumps
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    assert not (await proxier.sync()).full
    assert "-A INPUT -j ACCEPT" in _saved(netns)
    backend.cleanup()
    left = _saved(netns)
    assert [r for _, r in FOREIGN if r.startswith("-A")] == [ln for ln in left if ln.startswith("-A")]


@pytest.mark.skipif(not shutil.which("ip6tables-restore"), reason="no ip6tables")
async def test_ipv6_rules_load_into_ip6tables(netns: str, golden_dir: Path) -> None:
    """The IPv6 proxier programs ip6tables (never iptables); the kernel accepts upstream's IPv6 case and
    our IPv6 overall golden; a plain ``-j REJECT`` reads back as ``icmp6-port-unreachable``."""
    for name in ("ipv6-nodeport-local.rules", "overall-ipv6.rules"):
        text = (
            (golden_dir / "iptables" / name)
            .read_text()
            .replace(" -m nfacct --nfacct-name ct_state_invalid_dropped_pkts", "")
        )
        subprocess.run(["ip", "netns", "exec", netns, "ip6tables-restore", "--test"], input=text, text=True, check=True)
    executor = SubprocessIptables(prefix=("ip", "netns", "exec", netns), binary=TEST_NODE_OPTIONS_V6.facts.iptables)
    backend = IptablesProxier(executor, PlanOptions(node=TEST_NODE_OPTIONS_V6))
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, family=IPFamily.IPV6, clock=ManualClock()))
    load_overall(proxier, IPFamily.IPV6)
    await proxier.sync()
    saved = _in_ns(netns, "ip6tables-save")
    assert "-j DNAT --to-destination [fd00:10:180::1]:80" in saved
    assert "-A KUBE-SERVICES ! -d ::1/128 -m comment" in saved and "127.0.0.0/8" not in saved
    # svc6 has no endpoints: ip6tables' default REJECT type is the ICMPv6 one
    reject = [ln for ln in saved.splitlines() if "-d fd00:172:30::46/128" in ln]
    assert reject and reject[0].endswith("-j REJECT --reject-with icmp6-port-unreachable")
    assert "KUBE-SVC" not in _in_ns(netns, "iptables-save")
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("fd00:10:180::9"), address_type="IPv6"))
    await proxier.sync()
    saved = _in_ns(netns, "ip6tables-save", "-t", "nat")
    assert "[fd00:10:180::9]:80" in saved and "[fd00:10:180::1]:80" not in saved
    backend.cleanup()
    assert "KUBE-SVC" not in _in_ns(netns, "ip6tables-save", "-t", "nat")
