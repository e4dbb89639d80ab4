"""The ipvs mode's one kernel check, on fake ``/proc`` and module trees (no root, no IPVS needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.proxy import modes
from svclab.proxy.ipvs.kernel import iptables_binary, ipvs_missing, running_in_uml

RELEASE = "6.1.0-test"


def tree(root: Path, **files: str) -> Path:
    base = root / "modules" / RELEASE
    base.mkdir(parents=True)
    for name, text in files.items():
        path = base / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "modules"


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    (tmp_path / "proc" / "net").mkdir(parents=True)
    return tmp_path / "proc"


def test_loaded_ipvs_is_enough(proc: Path, tmp_path: Path) -> None:
    (proc / "net" / "ip_vs").write_text("")
    assert ipvs_missing(proc, (tmp_path / "none",), RELEASE) is None


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(
            {"modules.dep": "kernel/net/netfilter/ipvs/ip_vs.ko.zst: kernel/net/netfilter/nf_conntrack.ko.zst\n"},
            id="module in modules.dep",
        ),
        pytest.param({"modules.dep": "updates/dkms/ip_vs.ko:\n"}, id="out-of-tree module"),
        pytest.param({"modules.builtin": "kernel/net/netfilter/ipvs/ip_vs.ko\n"}, id="built in"),
        pytest.param({"kernel__net__netfilter__ipvs__ip_vs.ko.xz": ""}, id="module file without modules.dep"),
    ],
)
def test_loadable_ipvs_counts(proc: Path, tmp_path: Path, files: dict[str, str]) -> None:
    assert ipvs_missing(proc, (tree(tmp_path, **files),), RELEASE) is None


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({}, id="empty tree"),
        pytest.param({"modules.dep": "kernel/net/netfilter/ipvs/ip_vs_rr.ko: \n"}, id="only a scheduler listed"),
    ],
)
def test_without_ipvs_the_reason_is_given(proc: Path, tmp_path: Path, files: dict[str, str]) -> None:
    assert ipvs_missing(proc, (tree(tmp_path, **files),), RELEASE) == "needs IPVS, which this kernel lacks"


def test_the_registry_asks_this_check() -> None:
    assert modes.get("ipvs").supported is ipvs_missing
    assert modes.get("ipvs").uml_fallback


def test_legacy_iptables_only_inside_uml_without_nf_tables(proc: Path) -> None:
    (proc / "cpuinfo").write_text("processor\t: 0\nvendor_id\t: User Mode Linux\nmodel name\t: UML\n")
    assert running_in_uml(proc)
    assert iptables_binary(proc) in ("iptables-legacy", "iptables")  # legacy when installed
    (proc / "net" / "netfilter").mkdir()
    (proc / "net" / "netfilter" / "nf_tables").write_text("")
    assert iptables_binary(proc) == "iptables"
    (proc / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Some CPU\n")
    assert not running_in_uml(proc) and iptables_binary(proc) == "iptables"
