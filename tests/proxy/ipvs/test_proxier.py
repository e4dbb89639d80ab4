"""The ipvs proxier against the fake executor: full/partial syncs, graceful termination, cleanup.

Address plan: ClusterIPs 10.20.30.0/24, pod IPs 10.180.0.0/16, this node
192.168.0.2 on eth0 (the fake's default devices).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from svclab.proxy.ipvs.plan import IpvsOptions, RealServer, VirtualServer
from svclab.proxy.ipvs.proxier import IpvsProxier
from svclab.proxy.ipvs.reconcile import OpKind, RealServerStatus, reconcile_virtual_server
from svclab.proxy.ipvs.testing import FakeIpvsExecutor
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import Protocol

from ..builders import TEST_NODE, endpoint, endpoint_slice, service

VIP = VirtualServer("10.20.30.41", 80, Protocol.TCP)
UDP_VIP = VirtualServer("10.20.30.53", 53, Protocol.UDP)


def make() -> tuple[Proxier, FakeIpvsExecutor]:
    fake = FakeIpvsExecutor()
    backend = IpvsProxier(fake, IpvsOptions(node=NodeOptions(cluster_cidr="10.0.0.0/8")))
    return Proxier(backend, ProxierOptions(node_name=TEST_NODE)), fake


def sync(proxier: Proxier) -> Any:
    return asyncio.run(proxier.sync())


def web_slice(*ips: str, protocol: str = "TCP") -> Any:
    if protocol == "UDP":
        return endpoint_slice("ns1", "dns", *(endpoint(ip) for ip in ips), port=("dns", 53), protocol="UDP")
    return endpoint_slice("ns1", "web", *(endpoint(ip) for ip in ips))


WEB = service("ns1", "web", "10.20.30.41", ("p80", 80, 0))
DNS = service("ns1", "dns", "10.20.30.53", ("dns", 53, 0), protocol="UDP")


def test_first_sync_programs_everything() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    report = sync(proxier)
    assert report.full
    assert fake.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}
    assert fake.devices["kube-ipvs0"] == {"10.20.30.41"}
    assert fake.ipsets["KUBE-CLUSTER-IP"] == {"10.20.30.41,tcp:80"}
    assert ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals") in fake.jumps
    assert fake.sysctls["net/ipv4/vs/conntrack"] == "1"
    assert report.rules_by_table["ipvs"] == 1


def test_partial_sync_touches_only_changed_service_and_skips_unchanged_iptables() -> None:
    proxier, fake = make()
    other = service("ns1", "other", "10.20.30.42", ("p80", 80, 0))
    proxier.on_service(None, WEB)
    proxier.on_service(None, other)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    fake.ops.clear()
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.3"))
    report = sync(proxier)
    assert not report.full
    assert [str(op) for op in fake.ops] == ["add-real-server 10.20.30.41:80/TCP -> 10.180.0.3:80 weight 1"]
    assert len(fake.iptables_restores) == 1  # rules text did not change
    assert fake.ipset_restores[-1] == ""


def test_removed_tcp_endpoint_drains_with_weight_zero_then_goes() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    fake.set_connections(VIP, RealServer("10.180.0.2", 80), active=3, inactive=1)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    assert fake.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 0}
    sync(proxier)  # still busy: nothing changes
    assert fake.real_servers(VIP)["10.180.0.2:80"] == 0
    fake.set_connections(VIP, RealServer("10.180.0.2", 80, 0), active=0, inactive=0)
    sync(proxier)  # a partial sync rechecks draining servers
    assert fake.real_servers(VIP) == {"10.180.0.1:80": 1}


def test_draining_endpoint_that_comes_back_gets_weight_again() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    fake.set_connections(VIP, RealServer("10.180.0.2", 80), active=1)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    assert fake.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}


def test_removed_udp_endpoint_is_deleted_at_once() -> None:
    proxier, fake = make()
    proxier.on_service(None, DNS)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2", protocol="UDP"))
    sync(proxier)
    fake.set_connections(UDP_VIP, RealServer("10.180.0.2", 53), active=0, inactive=5)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", protocol="UDP"))
    sync(proxier)
    assert fake.real_servers(UDP_VIP) == {"10.180.0.1:53": 1}


def test_deleted_service_loses_virtual_server_address_and_set_entry() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    sync(proxier)
    proxier.on_service(WEB, None)
    sync(proxier)
    assert fake.services == {}
    assert fake.devices["kube-ipvs0"] == set()
    assert fake.ipsets["KUBE-CLUSTER-IP"] == set()


def test_kernel_drift_fails_partial_sync_and_next_full_sync_repairs() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    fake.services.clear()  # someone flushed IPVS behind our back
    fake.destinations.clear()
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    with pytest.raises(LookupError, match="no such virtual server"):
        sync(proxier)
    report = sync(proxier)
    assert report.full
    assert fake.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}


def test_rejected_iptables_restore_makes_next_sync_full() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    fake.fail_next_iptables_restore = True
    with pytest.raises(Exception, match="injected"):
        sync(proxier)
    assert sync(proxier).full
    assert fake.chains[("nat", "KUBE-SERVICES")]


def test_node_port_addresses_come_from_local_devices_without_loopback() -> None:
    proxier, fake = make()
    proxier.on_service(None, service("ns1", "web", "10.20.30.41", ("p80", 80, 30080), type="NodePort"))
    sync(proxier)
    assert sorted(str(vs) for vs in fake.services.values()) == ["10.20.30.41:80/TCP", "192.168.0.2:30080/TCP"]


def test_cleanup_removes_everything() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    sync(proxier)
    proxier.backend.cleanup()
    assert (fake.services, fake.jumps, fake.ipsets) == ({}, set(), {})
    assert "kube-ipvs0" not in fake.devices
    assert not any(table_chain[1].startswith("KUBE-") for table_chain in fake.chains)


@pytest.mark.parametrize(
    ("protocol", "active", "weight", "want"),
    [
        pytest.param(Protocol.TCP, 2, 1, OpKind.UPDATE_REAL_SERVER, id="tcp-busy-quiesce"),
        pytest.param(Protocol.TCP, 2, 0, None, id="tcp-busy-already-quiesced"),
        pytest.param(Protocol.TCP, 0, 0, OpKind.DELETE_REAL_SERVER, id="tcp-idle-delete"),
        pytest.param(Protocol.UDP, 2, 1, OpKind.DELETE_REAL_SERVER, id="udp-delete-at-once"),
    ],
)
def test_graceful_termination_table(protocol: Protocol, active: int, weight: int, want: OpKind | None) -> None:
    vs = VirtualServer("10.20.30.41", 80, protocol)
    gone = RealServerStatus(RealServer("10.180.0.9", 80, weight), active_connections=active)
    ops = reconcile_virtual_server(vs, (), vs, [gone])
    assert [op.kind for op in ops] == ([want] if want else [])


def test_missing_jumps_are_prepended_once() -> None:
    from svclab.proxy.ipvs.executor import missing_jumps_restore
    from svclab.proxy.ipvs.rules import JUMP_RULES

    saved = (
        "*nat\n:PREROUTING ACCEPT [0:0]\n"
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\nCOMMIT\n'
    )
    text = missing_jumps_restore(saved, JUMP_RULES[:3])
    assert text.splitlines() == [
        "*nat",
        '-I OUTPUT 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-I POSTROUTING 1 -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        "COMMIT",
    ]
    assert missing_jumps_restore(saved.replace("-A PREROUTING", "-A OUTPUT") + saved, JUMP_RULES[:2]) == ""
