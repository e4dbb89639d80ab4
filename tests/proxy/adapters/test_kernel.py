"""The real iptables and ipset adapters against the kernel, and their fakes giving the same answers.

Runs only as root, inside a throwaway network namespace (the ``netns`` fixture
of ``tests/proxy/conftest.py``), deleted afterwards, also on failure. Never
touches the root namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from svclab.proxy.adapters.errors import IpsetRestoreError, IptablesRestoreError
from svclab.proxy.adapters.ipset import IpsetExecutor, SubprocessIpset
from svclab.proxy.adapters.iptables import IptablesExecutor, SubprocessIptables
from svclab.proxy.adapters.testing.ipset import FakeIpset
from svclab.proxy.adapters.testing.iptables import FakeIptables

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"),
]

JUMP = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
CHAINS = "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-SERVICES -j KUBE-MARK-MASQ\nCOMMIT\n"


def _both_iptables(netns: str) -> list[IptablesExecutor]:
    return [SubprocessIptables(prefix=("ip", "netns", "exec", netns)), FakeIptables()]


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="no iptables")
def test_iptables_batch_rules_and_chain_deletion(netns: str) -> None:
    for iptables in _both_iptables(netns):
        iptables.restore(CHAINS, noflush=True)
        iptables.ensure_rules([("nat", "PREROUTING", JUMP), ("nat", "OUTPUT", JUMP)])
        iptables.ensure_rules([("nat", "PREROUTING", JUMP)])  # present: nothing to do
        assert iptables.save("nat").count(f"-A PREROUTING {JUMP}") == 1, type(iptables).__name__
        with pytest.raises(IptablesRestoreError) as caught:
            iptables.restore("*nat\n:KUBE-NODEPORTS - [0:0]\n-A KUBE-NODEPORTS -j KUBE-MISSING\nCOMMIT\n")
        # iptables-nft blames the COMMIT (line 4) that applies the rule, the fake the rule itself
        assert caught.value.line in (3, 4) and f"> {caught.value.line}: " in str(caught.value)
        for table, chain, rule in [("nat", "PREROUTING", JUMP), ("nat", "OUTPUT", JUMP)]:
            iptables.delete_rule(table, chain, rule)
        iptables.delete_chains("nat", ["KUBE-SERVICES", "KUBE-MARK-MASQ"])  # one jumps to the other
        assert not iptables.chain_exists("nat", "KUBE-SERVICES") and not iptables.chain_exists("nat", "KUBE-MARK-MASQ")


@pytest.mark.skipif(not shutil.which("ipset"), reason="no ipset")
def test_ipset_scripts_and_errors(netns: str) -> None:
    ipsets: list[IpsetExecutor] = [SubprocessIpset(prefix=("ip", "netns", "exec", netns)), FakeIpset()]
    for ipset in ipsets:
        ipset.restore(
            "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment -exist\n"
            "add KUBE-CLUSTER-IP 172.30.0.41,tcp:80\n"
        )
        ipset.restore("")
        with pytest.raises(IpsetRestoreError) as caught:
            ipset.restore("add KUBE-CLUSTER-IP 172.30.0.42,tcp:80\nadd KUBE-GONE 1.2.3.4\n")
        assert caught.value.line == 2, type(ipset).__name__
        ipset.destroy(["KUBE-CLUSTER-IP", "KUBE-GONE"])
    listed = subprocess.run(["ip", "netns", "exec", netns, "ipset", "list", "-n"], capture_output=True, text=True)
    assert listed.stdout.split() == []
