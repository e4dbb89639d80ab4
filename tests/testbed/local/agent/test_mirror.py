"""Mirror pods of the components a node hosts (kubelet's static pods), against a fake client.

Address plan: node ``n1`` at 172.18.0.2 (uid ``node-uid``); its apiserver runs as
pid 4242, its proxy is down (restarting).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lightkube.resources.core_v1 import Node, Pod

from svclab.kube.testing import FakeClient
from svclab.testbed.local.agent.mirror import (
    MIRROR_ANNOTATION,
    MirrorPods,
    StaticPod,
    is_mirror_pod,
    mirror_pod,
    parse_static_pods,
)

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "node-uid"}}
APISERVER = StaticPod("kube-apiserver", "apiserver")
PROXY = StaticPod("kube-proxy", "proxy-n1")
ARGV = ["python", "-m", "svclab.cli", "apiserver"]


def test_parse_static_pods() -> None:
    assert parse_static_pods("kube-apiserver=apiserver, kube-proxy=proxy-n1") == (APISERVER, PROXY)
    assert parse_static_pods("") == ()
    with pytest.raises(ValueError, match="component=child"):
        parse_static_pods("kube-apiserver")


def test_mirror_pod_of_a_running_component() -> None:
    pod = mirror_pod(APISERVER, node=NODE, node_ips=["172.18.0.2"], argv=ARGV, started_at="2026-12-03T10:00:00Z")
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    assert (meta["name"], meta["namespace"]) == ("kube-apiserver-n1", "kube-system")
    assert meta["labels"] == {"component": "kube-apiserver", "tier": "control-plane"}
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert meta["annotations"][MIRROR_ANNOTATION] == meta["annotations"]["kubernetes.io/config.hash"]
    assert meta["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-uid", "controller": True}
    ]
    assert (spec["nodeName"], spec["hostNetwork"], spec["containers"][0]["command"]) == ("n1", True, ARGV)
    assert status["podIP"] == "172.18.0.2"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": "2026-12-03T10:00:00Z"}}
    assert is_mirror_pod(pod)


def test_mirror_pod_of_a_component_that_is_down() -> None:
    pod = mirror_pod(PROXY, node=NODE, node_ips=["172.18.0.2"], argv=[], started_at=None)
    assert pod["metadata"]["labels"] == {"component": "kube-proxy"}
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "False"
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}


def test_an_ordinary_pod_is_no_mirror_pod() -> None:
    assert not is_mirror_pod({"metadata": {"annotations": {"kubernetes.io/config.source": "api"}}})
    assert not is_mirror_pod({})


def _publisher(client: FakeClient, running: dict[str, int]) -> MirrorPods:
    def find(static: StaticPod) -> tuple[int, list[str]] | None:
        pid = running.get(static.child)
        return (pid, ARGV) if pid else None

    return MirrorPods(client, node_name="n1", node_ips=["172.18.0.2"], static_pods=[APISERVER, PROXY], find=find)


def _pods(client: FakeClient) -> dict[str, dict[str, Any]]:
    return {p.metadata.name: p.to_dict() for p in client.objects(Pod)}


def test_sync_publishes_then_follows_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("svclab.testbed.local.agent.mirror.process_started_at", lambda pid: "2026-12-03T10:00:00Z")
    client = FakeClient()
    client.seed(Node.from_dict(NODE))
    running = {"apiserver": 4242}
    publisher = _publisher(client, running)
    asyncio.run(publisher.sync())
    pods = _pods(client)
    assert sorted(pods) == ["kube-apiserver-n1", "kube-proxy-n1"]
    assert pods["kube-apiserver-n1"]["status"]["containerStatuses"][0]["ready"] is True
    assert pods["kube-proxy-n1"]["status"]["containerStatuses"][0]["ready"] is False

    running.clear()  # the apiserver process died: its mirror pod turns not ready
    running["proxy-n1"] = 5151
    asyncio.run(publisher.sync())
    pods = _pods(client)
    assert pods["kube-apiserver-n1"]["status"]["containerStatuses"][0]["ready"] is False
    assert pods["kube-proxy-n1"]["status"]["containerStatuses"][0]["ready"] is True


def test_sync_writes_nothing_when_nothing_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("svclab.testbed.local.agent.mirror.process_started_at", lambda pid: "2026-12-03T10:00:00Z")
    client = FakeClient()
    client.seed(Node.from_dict(NODE))
    publisher = _publisher(client, {"apiserver": 4242, "proxy-n1": 5151})
    asyncio.run(publisher.sync())
    client.clear_actions()
    asyncio.run(publisher.sync())
    assert [verb for verb, _ in client.verbs() if verb not in ("get", "list")] == []


def test_a_deleted_mirror_pod_is_released_then_published_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("svclab.testbed.local.agent.mirror.process_started_at", lambda pid: "2026-12-03T10:00:00Z")
    client = FakeClient()
    client.seed(Node.from_dict(NODE))
    publisher = _publisher(client, {"apiserver": 4242, "proxy-n1": 5151})
    asyncio.run(publisher.sync())
    deleting = _pods(client)["kube-apiserver-n1"]
    deleting["metadata"]["deletionTimestamp"] = "2026-12-03T10:01:00Z"
    asyncio.run(client.replace(Pod.from_dict(deleting), namespace="kube-system"))
    asyncio.run(publisher.sync())
    assert "kube-apiserver-n1" not in _pods(client)
    asyncio.run(publisher.sync())
    assert "kube-apiserver-n1" in _pods(client)
