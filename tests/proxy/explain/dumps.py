"""Dumps of the fakes in the formats a node's tools print them, so the explain core reads what a node would show.

``iptables-save`` comes from ``FakeIptables.save``; ``ipset save`` and
``ipvsadm-save -n`` are written here from ``FakeIpset`` and ``FakeIpvs``
in the tools' syntax; the nftables fake's ``dump()`` is the transaction
format the explain core reads as well as nft's listing.
"""

from __future__ import annotations

from svclab.proxy.adapters.testing.ipset import FakeIpset
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.ipvs_netlink import FakeIpvs

_FLAG = {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}


def iptables_save(fake: FakeIptables) -> str:
    return "".join(fake.save(table) for table in ("filter", "nat"))


def ipset_save(fake: FakeIpset) -> str:
    lines = []
    for name, entries in fake.sets.items():
        inet = "inet6" if name.startswith("KUBE-6-") else "inet"  # the IPv6 proxier's sets
        lines.append(f"create {name} {fake.types[name]} family {inet} hashsize 1024 maxelem 65536")
        lines += [f"add {name} {entry}" for entry in sorted(entries)]
    return "\n".join(lines) + "\n"


def ipvsadm_save(fake: FakeIpvs) -> str:
    lines = []
    for vs in fake.list_virtual_servers():
        flag, address = _FLAG[vs.protocol.value], str(vs).rsplit("/", 1)[0]  # [ip6]:port as ipvsadm prints it
        persistence = f" -p {vs.timeout}" if vs.flags & 0x1 else ""
        lines.append(f"-A {flag} {address} -s {vs.scheduler}{persistence}")
        for status in fake.list_real_servers(vs):
            lines.append(f"-a {flag} {address} -r {status.server} -m -w {status.server.weight}")
    return "\n".join(lines) + "\n"
