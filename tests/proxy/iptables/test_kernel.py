"""Real-kernel check of the iptables mode: its rules load into iptables-restore, partial syncs apply.

Runs only as root, inside a throwaway network namespace (the ``netns`` fixture
of ``tests/proxy/conftest.py``), deleted afterwards. Never touches the root
namespace. Address plan: see ``builders.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from svclab.proxy.adapters.iptables import SubprocessIptables
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.provider import Proxier, ProxierOptions

from ..builders import TEST_NODE, TEST_NODE_OPTIONS, endpoint, endpoint_slice
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
