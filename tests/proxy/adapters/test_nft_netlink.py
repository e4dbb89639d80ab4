"""The nfnetlink queries behind the iptables and nftables canary checks (issue 16), and their use by the adapters.

No addresses. The message layout is the kernel's (``linux/netfilter/nf_tables.h``,
``linux/netlink.h``): nlmsghdr, nfgenmsg, then the table and chain name
attributes. The root test asks the kernel inside a throwaway namespace (the
``netns`` fixture of ``tests/proxy/conftest.py``) from a child process started
there, never from the root namespace.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from svclab.proxy.adapters import iptables as iptables_adapter
from svclab.proxy.adapters import nft as nft_adapter
from svclab.proxy.adapters import nft_netlink
from svclab.proxy.adapters.iptables import SubprocessIptables
from svclab.proxy.adapters.nft import SubprocessNft
from svclab.proxy.adapters.nft_netlink import getchain_request, parse_reply

REPO = Path(__file__).resolve().parents[3]


def _message(kind: int, payload: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(payload), kind, 0, 1, 0) + payload


def test_request_carries_family_table_and_chain() -> None:
    data = getchain_request(nft_netlink.NFPROTO_IPV4, "nat", "KUBE-PROXY-CANARY", sequence=7)
    length, kind, flags, sequence, _ = struct.unpack_from("=IHHII", data)
    assert (length, kind, flags, sequence) == (len(data), 0x0A04, 0x5, 7)  # nftables subsystem, GETCHAIN
    assert data[16:20] == bytes([2, 0, 0, 0])  # nfgenmsg: IPv4, version 0, resource id 0
    # attribute 1 (table) "nat\0" is 8 bytes with its header; attribute 3 (chain name) padded to 4
    assert data[20:28] == struct.pack("=HH", 8, 1) + b"nat\0"
    assert data[28:32] == struct.pack("=HH", 22, 3) and data[32:50] == b"KUBE-PROXY-CANARY\0"
    assert len(data) % 4 == 0


def _error(code: int) -> bytes:
    return _message(0x2, struct.pack("=i", code) + b"\0" * 16)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(_message(0x0A03, b"\2\0\0\0") + _error(0), True, id="chain-then-ack"),
        pytest.param(_error(-errno.ENOENT), False, id="no-such-chain-or-table"),
        pytest.param(_error(-errno.EPERM), None, id="not-allowed-ask-the-tool"),
        pytest.param(_error(0), None, id="bare-ack"),
        pytest.param(b"\0" * 8, None, id="truncated"),
        pytest.param(_message(0x0A05, b"") + b"\0" * 4, None, id="another-message"),
    ],
)
def test_reply_parsing(reply: bytes, expected: bool | None) -> None:
    assert parse_reply(reply) is expected


class _Tools:
    """Stands in for ``SubprocessIptables._run``: records argv, answers like iptables-nft."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str, data: str | None = None, check: bool = True) -> Any:
        self.calls.append(args)
        stdout = self.version if "-V" in args else ""
        return subprocess.CompletedProcess(args, 0, stdout, "")


@pytest.mark.parametrize(
    ("version", "netlink", "prefix", "tool_calls", "binary"),
    [
        pytest.param("iptables v1.8.9 (nf_tables)", True, (), 0, "iptables", id="nft-backend-confirmed-no-process"),
        pytest.param("iptables v1.8.9 (nf_tables)", False, (), 1, "iptables", id="nft-backend-missing-tool-confirms"),
        pytest.param("iptables v1.8.9 (legacy)", True, (), 1, "iptables", id="legacy-backend-always-the-tool"),
        pytest.param("", True, (), 1, "iptables-legacy", id="legacy-by-name-not-even-asked"),
        pytest.param(
            "iptables v1.8.9 (nf_tables)", True, ("ip", "netns", "exec", "x"), 1, "iptables", id="other-netns"
        ),
    ],
)
def test_adapter_asks_the_kernel_first_only_where_its_answer_holds(
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    netlink: bool,
    prefix: tuple[str, ...],
    tool_calls: int,
    binary: str,
) -> None:
    tools = _Tools(version)
    asked: list[tuple[int, str, str]] = []

    def fake_chain_exists(family: int, table: str, chain: str) -> bool:
        asked.append((family, table, chain))
        return netlink

    monkeypatch.setattr(iptables_adapter.nft_netlink, "chain_exists", fake_chain_exists)
    executor = SubprocessIptables(prefix=prefix, binary=binary)
    monkeypatch.setattr(executor, "_run", tools)
    for _ in range(2):
        assert executor.chain_exists("nat", "KUBE-PROXY-CANARY")
    listings = [c for c in tools.calls if "-S" in c]
    assert len(listings) == 2 * tool_calls
    # the backend asked once, and only where the name does not say it
    assert len([c for c in tools.calls if "-V" in c]) == (0 if prefix or binary.endswith("-legacy") else 1)
    if asked:
        assert asked[0] == (nft_netlink.NFPROTO_IPV4, "nat", "KUBE-PROXY-CANARY")


_CHILD = """
import sys
from svclab.proxy.adapters.nft_netlink import chain_exists
print(chain_exists(2, "nat", "KUBE-PROXY-CANARY"), chain_exists(2, "nat", "KUBE-GONE"),
      chain_exists(2, "mangle", "KUBE-PROXY-CANARY"))
"""


@pytest.mark.root
@pytest.mark.timeout(30)
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables"), reason="needs root and iptables")
def test_kernel_answers_as_iptables_does(netns: str) -> None:
    version = subprocess.run(["iptables", "-V"], capture_output=True, text=True).stdout
    if "nf_tables" not in version:
        pytest.skip("iptables here is not the nf_tables variant")
    subprocess.run(["ip", "netns", "exec", netns, "iptables", "-t", "nat", "-N", "KUBE-PROXY-CANARY"], check=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "implementation")}
    child = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env
    )
    assert child.returncode == 0, child.stderr
    # the chain, a chain that is not there, a table that is not there
    assert child.stdout.split() == ["True", "False", "False"]


def test_rule_dump_request_names_table_and_chain() -> None:
    data = nft_netlink.getrule_dump_request(nft_netlink.NFPROTO_IPV4, "kube-proxy", "nat-prerouting", sequence=3)
    length, kind, flags, sequence, _ = struct.unpack_from("=IHHII", data)
    assert (length, kind, flags, sequence) == (len(data), 0x0A07, 0x301, 3)  # GETRULE, request + dump
    assert data[20:36] == struct.pack("=HH", 15, 1) + b"kube-proxy\0\0"  # table, padded to 4
    assert data[36:40] == struct.pack("=HH", 19, 2) and data[40:55] == b"nat-prerouting\0"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(_message(0x0A06, b"\2\0\0\0"), (True, True), id="a-rule"),
        pytest.param(_message(0x3, b"\0\0\0\0"), (False, True), id="empty-or-gone"),
        pytest.param(_error(-errno.ENOENT), (False, True), id="no-such-table"),
        pytest.param(_error(-errno.EPERM), (None, True), id="not-allowed-ask-the-tool"),
        pytest.param(b"", (None, False), id="nothing-yet-read-on"),
    ],
)
def test_rule_dump_parsing(reply: bytes, expected: tuple[bool | None, bool]) -> None:
    assert nft_netlink.parse_rule_dump(reply) == expected


@pytest.mark.parametrize(
    ("netlink", "prefix", "tool_calls", "answer"),
    [
        pytest.param(True, (), 0, True, id="rules-no-process"),
        pytest.param(False, (), 0, False, id="no-rules-no-process"),
        pytest.param(None, (), 1, False, id="cannot-tell-ask-nft"),
        pytest.param(True, ("ip", "netns", "exec", "x"), 1, False, id="other-netns-ask-nft"),
    ],
)
def test_nft_adapter_asks_the_kernel_first(
    monkeypatch: pytest.MonkeyPatch, netlink: bool | None, prefix: tuple[str, ...], tool_calls: int, answer: bool
) -> None:
    calls: list[tuple[str, ...]] = []

    def fake_nft(*args: str, data: str | None = None) -> Any:
        calls.append(args)
        return subprocess.CompletedProcess(args, 1, "", "No such file or directory")

    monkeypatch.setattr(nft_adapter.nft_netlink, "chain_has_rules", lambda family, table, chain: netlink)
    executor = SubprocessNft("kube-proxy", prefix=prefix)
    monkeypatch.setattr(executor, "_nft", fake_nft)
    assert executor.has_rules("nat-prerouting") is answer
    assert len(calls) == tool_calls


_NFT_CHILD = """
from svclab.proxy.adapters.nft import SubprocessNft
nft = SubprocessNft("kube-proxy")
print(nft.has_rules("nat-prerouting"), nft.has_rules("empty"), nft.has_rules("gone"))
"""


@pytest.mark.root
@pytest.mark.timeout(30)
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_kernel_answers_as_nft_does(netns: str) -> None:
    ruleset = (
        "add table ip kube-proxy\n"
        "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }\n"
        "add chain ip kube-proxy services\nadd chain ip kube-proxy empty\n"
        "add rule ip kube-proxy nat-prerouting jump services\n"
    )
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=ruleset, text=True, check=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "implementation")}
    child = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _NFT_CHILD], capture_output=True, text=True, env=env
    )
    assert child.returncode == 0, child.stderr
    tool = SubprocessNft("kube-proxy", prefix=("ip", "netns", "exec", netns))
    expected = [str(tool.has_rules(chain)) for chain in ("nat-prerouting", "empty", "gone")]
    assert child.stdout.split() == expected == ["True", "False", "False"]
