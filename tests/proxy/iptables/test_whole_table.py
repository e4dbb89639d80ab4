"""Full syncs by whole-table restore: foreign rules survive, our jumps stay single, fallbacks to --noflush.

Against the fake iptables (``FakeIptables`` empties a table restored without
``--noflush``, as the real tool does). Address plan: see ``builders.py``.
"""

from __future__ import annotations

import pytest

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.iptables.plan import Ruleset
from svclab.proxy.iptables.proxier import JUMP_RULES
from svclab.proxy.iptables.whole_table import parse_save, restorable, whole_table_restore

from ..builders import endpoint, endpoint_slice
from ..helpers import iptables_proxier, load_overall

FOREIGN = """*filter
:DOCKER-USER - [0:0]
-A INPUT -j ACCEPT
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -s 10.99.0.0/16 -j DROP
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
"""


def foreign_rules(fake: FakeIptables) -> list[str]:
    text = fake.save("filter") + fake.save("nat")
    return [ln for ln in text.splitlines() if ln.startswith("-A") and "KUBE-" not in ln]


def jumps(fake: FakeIptables) -> list[str]:
    return [
        f"{t} {c} {r}"
        for t in ("filter", "nat")
        for c, rules in fake.tables[t].items()
        for r in rules
        if c.isupper() and "-j KUBE-" in r and not c.startswith("KUBE-")
    ]


async def test_foreign_rules_and_chains_survive_full_syncs() -> None:
    proxier, backend, fake = iptables_proxier()
    fake.restore(FOREIGN)
    before = foreign_rules(fake)
    load_overall(proxier)
    report = await proxier.sync()
    assert report.full and fake.restores[-1] == backend.last_restore
    assert foreign_rules(fake) == before
    first_jumps = jumps(fake)
    assert len(first_jumps) == len(JUMP_RULES) and len(set(first_jumps)) == len(first_jumps)
    assert fake.rules("filter", "INPUT")[-1] == "-j ACCEPT"  # our jumps go first, the user's rule stays after them
    backend.need_full_sync = True
    await proxier.sync()
    assert foreign_rules(fake) == before and jumps(fake) == first_jumps  # nothing doubled
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80"


async def test_full_sync_drops_stale_service_chains_and_keeps_kubelets() -> None:
    proxier, _backend, fake = iptables_proxier()
    fake.restore("*nat\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n")
    load_overall(proxier)
    await proxier.sync()
    assert "KUBE-SVC-AAAAAAAAAAAAAAAA" not in fake.tables["nat"]
    assert "KUBE-KUBELET-CANARY" in fake.tables["nat"]
    assert all(fake.chain_exists(t, "KUBE-PROXY-CANARY") for t in ("mangle", "nat", "filter"))


async def test_partial_syncs_keep_noflush() -> None:
    proxier, backend, fake = iptables_proxier()
    fake.restore(FOREIGN)
    load_overall(proxier)
    await proxier.sync()
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.9")))
    report = await proxier.sync()
    assert not report.full and ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]" in backend.last_restore
    assert ":INPUT" not in backend.last_restore  # never the whole table
    assert foreign_rules(fake) == [ln for ln in FOREIGN.splitlines() if ln.startswith("-A")]


async def test_unrestorable_save_output_falls_back_to_noflush(monkeypatch: pytest.MonkeyPatch) -> None:
    proxier, backend, fake = iptables_proxier()
    saved = fake.save
    monkeypatch.setattr(
        fake,
        "save",
        lambda table, counters=False: (
            saved(table, counters=counters)
            + "# Table `filter' contains incompatible base-chains, use 'nft' tool to list them.\n"
        ),
    )
    load_overall(proxier)
    await proxier.sync()
    assert ":INPUT" not in backend.last_restore and backend.whole_table_restore


async def test_a_failed_whole_table_restore_falls_back_for_good() -> None:
    proxier, backend, fake = iptables_proxier()
    load_overall(proxier)
    fake.fail_next_restore = True
    with pytest.raises(IptablesRestoreError):
        await proxier.sync()
    assert not backend.whole_table_restore and backend.need_full_sync
    report = await proxier.sync()
    assert report.full and ":INPUT" not in backend.last_restore
    assert NetfilterTracer(fake)("10.0.0.2", "172.30.0.41", 80).verdict == "10.180.0.1:80"


def test_missing_jumps_are_prepended_in_ensure_order_and_present_ones_stay() -> None:
    saved = {
        "filter": "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A INPUT -j ACCEPT\n-A INPUT -j KUBE-A\nCOMMIT\n",
        "nat": "",
    }
    jumps = [("filter", "INPUT", "-j KUBE-A"), ("filter", "INPUT", "-j KUBE-B"), ("filter", "INPUT", "-j KUBE-C")]
    text = whole_table_restore(
        saved, Ruleset({}), jumps, [("filter", "KUBE-A"), ("filter", "KUBE-B"), ("filter", "KUBE-C")]
    )
    filter_part = text.split("COMMIT")[0].splitlines()
    assert ":FORWARD DROP [0:0]" in filter_part  # policies kept
    assert [ln for ln in filter_part if ln.startswith("-A INPUT")] == [
        "-A INPUT -j KUBE-C",
        "-A INPUT -j KUBE-B",
        "-A INPUT -j ACCEPT",
        "-A INPUT -j KUBE-A",
    ]
    assert text.split("COMMIT")[1].strip().startswith("*nat")


def test_restorable_and_parse() -> None:
    assert restorable(FOREIGN)
    assert not restorable("# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n")
    assert parse_save(FOREIGN.split("COMMIT")[0]).rules[0] == ("INPUT", "-A INPUT -j ACCEPT")
