"""The iptables adapter's fake against what the kernel checks, and the batch of missing rules.

Chains are ours (``KUBE-*``) on the fake's built-in tables; no kernel involved.
"""

from __future__ import annotations

import pytest

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.iptables import missing_rules_restore
from svclab.proxy.adapters.testing.ipset import FakeIpset
from svclab.proxy.adapters.testing.iptables import FakeIptables

JUMP = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
POST = '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'


def test_missing_rules_are_prepended_in_one_restore() -> None:
    saved = f"*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING {JUMP}\nCOMMIT\n*filter\nCOMMIT\n"
    rules = [("nat", "PREROUTING", JUMP), ("nat", "OUTPUT", JUMP), ("nat", "POSTROUTING", POST)]
    assert missing_rules_restore(saved, rules) == (f"*nat\n-I OUTPUT 1 {JUMP}\n-I POSTROUTING 1 {POST}\nCOMMIT\n")
    assert missing_rules_restore(saved, rules[:1]) == ""


def test_the_fake_ensures_rules_like_the_real_batch() -> None:
    fake = FakeIptables()
    fake.restore("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\nCOMMIT\n")
    fake.ensure_rules([("nat", "PREROUTING", JUMP), ("nat", "POSTROUTING", POST)])
    fake.ensure_rules([("nat", "PREROUTING", JUMP)])
    assert fake.rules("nat", "PREROUTING") == [JUMP] and fake.rules("nat", "POSTROUTING") == [POST]
    assert len(fake.restores) == 2  # the second call found nothing missing
    with pytest.raises(IptablesRestoreError, match="jump to missing chain KUBE-NODEPORTS"):
        fake.ensure_rules([("nat", "OUTPUT", "-j KUBE-NODEPORTS")])


def test_chains_are_flushed_before_any_is_deleted() -> None:
    fake = FakeIptables()
    fake.restore("*nat\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n-A KUBE-A -j KUBE-B\n-A KUBE-B -j KUBE-A\nCOMMIT\n")
    fake.ensure_rule("nat", "OUTPUT", "-j KUBE-A")
    with pytest.raises(RuntimeError, match="KUBE-A is still referenced"):
        fake.delete_chains("nat", ["KUBE-A", "KUBE-B"])  # OUTPUT still jumps there
    fake.delete_rule("nat", "OUTPUT", "-j KUBE-A")
    fake.delete_chains("nat", ["KUBE-A", "KUBE-B"])
    assert not fake.chain_exists("nat", "KUBE-A") and not fake.chain_exists("nat", "KUBE-B")


def test_a_rule_matching_a_missing_set_is_refused_atomically() -> None:
    sets = FakeIpset()
    fake = FakeIptables(ipsets=sets)
    text = (
        "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\nCOMMIT\n"
    )
    with pytest.raises(IptablesRestoreError, match="line 3 failed: Set KUBE-CLUSTER-IP doesn't exist") as caught:
        fake.restore(text)
    assert caught.value.line == 3 and not fake.chain_exists("nat", "KUBE-SERVICES")
    sets.restore("create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment -exist\n")
    fake.restore(text)
    assert fake.rules("nat", "KUBE-SERVICES") == ["-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"]


def test_iptables_unusable_names_a_missing_tool_and_passes_a_working_one() -> None:
    from svclab.proxy.adapters.iptables import iptables_unusable

    why = iptables_unusable("svclab-no-such-ip6tables")
    assert why is not None and why.startswith("svclab-no-such-ip6tables: ")
    assert iptables_unusable("true") is None  # exit 0: the nat table could be listed
    assert iptables_unusable("false") == "false: exit status 1"
