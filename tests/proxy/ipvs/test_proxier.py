"""The ipvs proxier against the fake executor: full/partial syncs, graceful termination, cleanup.

Address plan: ClusterIPs 10.20.30.0/24, pod IPs 10.180.0.0/16, this node
192.168.0.2 on eth0 (the fake's default devices).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.ipvs_netlink import OpKind, RealServer, RealServerStatus, VirtualServer
from svclab.proxy.ipvs.plan import IpvsOptions
from svclab.proxy.ipvs.reconcile import reconcile_virtual_server
from svclab.proxy.ipvs.rules import JUMP_RULES
from svclab.proxy.ipvs.testing import IpvsFakes
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import Protocol

from ..builders import TEST_NODE, endpoint, endpoint_slice, service

VIP = VirtualServer("10.20.30.41", 80, Protocol.TCP)
UDP_VIP = VirtualServer("10.20.30.53", 53, Protocol.UDP)


def make() -> tuple[Proxier, IpvsFakes]:
    fakes = IpvsFakes()
    backend = fakes.backend(IpvsOptions(node=NodeOptions(cluster_cidr="10.0.0.0/8")))
    return Proxier(backend, ProxierOptions(node_name=TEST_NODE)), fakes


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
    assert fake.ipvs.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}
    assert fake.ipvs.devices["kube-ipvs0"] == {"10.20.30.41"}
    assert fake.ipset.sets["KUBE-CLUSTER-IP"] == {"10.20.30.41,tcp:80"}
    assert fake.iptables.rules("nat", "PREROUTING") == [
        '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    ]
    assert fake.ipvs.sysctls["net/ipv4/vs/conntrack"] == "1"
    assert report.rules_by_table["ipvs"] == 1


def test_partial_sync_touches_only_changed_service_and_skips_unchanged_iptables() -> None:
    proxier, fake = make()
    other = service("ns1", "other", "10.20.30.42", ("p80", 80, 0))
    proxier.on_service(None, WEB)
    proxier.on_service(None, other)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    fake.ipvs.ops.clear()
    restores = len(fake.iptables.restores)  # the rules and the missing jumps
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.3"))
    report = sync(proxier)
    assert not report.full
    assert [str(op) for op in fake.ipvs.ops] == ["add-real-server 10.20.30.41:80/TCP -> 10.180.0.3:80 weight 1"]
    assert len(fake.iptables.restores) == restores  # rules text did not change
    assert fake.ipset.restores[-1] == ""


def test_removed_tcp_endpoint_drains_with_weight_zero_then_goes() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    fake.ipvs.set_connections(VIP, RealServer("10.180.0.2", 80), active=3, inactive=1)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    assert fake.ipvs.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 0}
    sync(proxier)  # still busy: nothing changes
    assert fake.ipvs.real_servers(VIP)["10.180.0.2:80"] == 0
    fake.ipvs.set_connections(VIP, RealServer("10.180.0.2", 80, 0), active=0, inactive=0)
    sync(proxier)  # a partial sync rechecks draining servers
    assert fake.ipvs.real_servers(VIP) == {"10.180.0.1:80": 1}


def test_draining_endpoint_that_comes_back_gets_weight_again() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    fake.ipvs.set_connections(VIP, RealServer("10.180.0.2", 80), active=1)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    sync(proxier)
    assert fake.ipvs.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}


def test_removed_udp_endpoint_is_deleted_at_once() -> None:
    proxier, fake = make()
    proxier.on_service(None, DNS)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2", protocol="UDP"))
    sync(proxier)
    fake.ipvs.set_connections(UDP_VIP, RealServer("10.180.0.2", 53), active=0, inactive=5)
    proxier.on_endpoint_slice(web_slice("10.180.0.1", protocol="UDP"))
    sync(proxier)
    assert fake.ipvs.real_servers(UDP_VIP) == {"10.180.0.1:53": 1}


def test_deleted_service_loses_virtual_server_address_and_set_entry() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    sync(proxier)
    proxier.on_service(WEB, None)
    sync(proxier)
    assert fake.ipvs.services == {}
    assert fake.ipvs.devices["kube-ipvs0"] == set()
    assert fake.ipset.sets["KUBE-CLUSTER-IP"] == set()


def test_kernel_drift_fails_partial_sync_and_next_full_sync_repairs() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    proxier.on_endpoint_slice(web_slice("10.180.0.1"))
    sync(proxier)
    fake.ipvs.services.clear()  # someone flushed IPVS behind our back
    fake.ipvs.destinations.clear()
    proxier.on_endpoint_slice(web_slice("10.180.0.1", "10.180.0.2"))
    with pytest.raises(LookupError, match="no such virtual server"):
        sync(proxier)
    report = sync(proxier)
    assert report.full
    assert fake.ipvs.real_servers(VIP) == {"10.180.0.1:80": 1, "10.180.0.2:80": 1}


def test_rejected_iptables_restore_makes_next_sync_full() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    fake.iptables.fail_next_restore = True
    with pytest.raises(IptablesRestoreError, match="injected"):
        sync(proxier)
    assert sync(proxier).full
    assert fake.iptables.rules("nat", "KUBE-SERVICES")


def test_node_port_addresses_come_from_local_devices_without_loopback() -> None:
    proxier, fake = make()
    proxier.on_service(None, service("ns1", "web", "10.20.30.41", ("p80", 80, 30080), type="NodePort"))
    sync(proxier)
    assert sorted(str(vs) for vs in fake.ipvs.services.values()) == ["10.20.30.41:80/TCP", "192.168.0.2:30080/TCP"]


def test_cleanup_removes_everything() -> None:
    proxier, fake = make()
    proxier.on_service(None, WEB)
    sync(proxier)
    proxier.backend.cleanup()
    assert (fake.ipvs.services, fake.ipset.sets) == ({}, {})
    assert not [rule for table, chain, rule in JUMP_RULES if rule in fake.iptables.rules(table, chain)]
    assert "kube-ipvs0" not in fake.ipvs.devices
    assert not [chain for chains in fake.iptables.tables.values() for chain in chains if chain.startswith("KUBE-")]


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
