"""The ipset adapter's fake: atomic scripts, and set matching as ``xt_set`` does it.

Address plan: ClusterIP 172.30.0.41, endpoint 10.180.0.1, LB 5.6.7.8 with
source range 203.0.113.0/25, NodePort 3003.
"""

from __future__ import annotations

import pytest

from svclab.proxy.adapters.errors import IpsetRestoreError
from svclab.proxy.adapters.testing.ipset import FakeIpset

SCRIPT = """\
create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment -exist
create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 comment -exist
create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536 comment -exist
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 comment -exist
create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536 comment -exist
add KUBE-CLUSTER-IP 172.30.0.41,tcp:80
add KUBE-LOOP-BACK 10.180.0.1,tcp:80,10.180.0.1
add KUBE-LOAD-BALANCER-SOURCE-CIDR 5.6.7.8,tcp:80,203.0.113.0/25
add KUBE-NODE-PORT-TCP 3003
add KUBE-IPVS-IPS 172.30.0.41
"""


@pytest.fixture
def sets() -> FakeIpset:
    fake = FakeIpset()
    fake.restore(SCRIPT)
    return fake


@pytest.mark.parametrize(
    ("name", "flags", "src", "dst", "dport", "want"),
    [
        ("KUBE-CLUSTER-IP", "dst,dst", "10.0.0.2", "172.30.0.41", 80, True),
        ("KUBE-CLUSTER-IP", "dst,dst", "10.0.0.2", "172.30.0.41", 81, False),
        ("KUBE-LOOP-BACK", "dst,dst,src", "10.180.0.1", "10.180.0.1", 80, True),
        ("KUBE-LOOP-BACK", "dst,dst,src", "10.180.0.2", "10.180.0.1", 80, False),
        ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "dst,dst,src", "203.0.113.2", "5.6.7.8", 80, True),
        ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "dst,dst,src", "203.0.113.130", "5.6.7.8", 80, False),
        ("KUBE-NODE-PORT-TCP", "dst", "203.0.113.2", "192.168.0.2", 3003, True),
        ("KUBE-IPVS-IPS", "dst", "10.0.0.2", "172.30.0.41", 9999, True),
        ("KUBE-EXTERNAL-IP", "dst,dst", "10.0.0.2", "172.30.0.41", 80, False),  # no such set
    ],
)
def test_sets_match_packets_by_type_and_flags(
    sets: FakeIpset, name: str, flags: str, src: str, dst: str, dport: int, want: bool
) -> None:
    assert sets.matches(name, flags, src=src, dst=dst, proto="tcp", sport=40000, dport=dport) is want


def test_a_script_naming_a_missing_set_changes_nothing(sets: FakeIpset) -> None:
    before = {k: set(v) for k, v in sets.sets.items()}
    with pytest.raises(IpsetRestoreError, match="set KUBE-GONE does not exist") as caught:
        sets.restore("del KUBE-CLUSTER-IP 172.30.0.41,tcp:80\nadd KUBE-GONE 1.2.3.4\n")
    assert caught.value.line == 2 and sets.sets == before
    sets.destroy(["KUBE-IPVS-IPS", "KUBE-NOT-THERE"])
    assert "KUBE-IPVS-IPS" not in sets.sets and len(sets.restores) == 2
