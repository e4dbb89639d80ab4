"""The API server's store: resourceVersions, persistence across a reopen, the
watch window and its 410 boundary. No server, no network."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from svclab.apiserver.storage import Store, TooOld, clone


def svc(name: str, ns: str = "default", **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {},
    }


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "state.db", window=5)
    yield s
    s.close()


def test_resource_versions_increase_and_are_stamped(store: Store) -> None:
    a = store.put("Service", svc("a"), "ADDED")
    b = store.put("Service", svc("b"), "ADDED")
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    final = store.remove("Service", "default", "a")
    assert int(final["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    assert store.get("Service", "default", "a") is None
    assert [o["metadata"]["name"] for o in store.list("Service")] == ["b"]


def test_list_is_sorted_and_namespaced(store: Store) -> None:
    for ns, name in (("b", "x"), ("a", "y"), ("a", "b")):
        store.put("Service", svc(name, ns), "ADDED")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.list("Service")] == [
        ("a", "b"),
        ("a", "y"),
        ("b", "x"),
    ]
    assert [o["metadata"]["name"] for o in store.list("Service", "a")] == ["b", "y"]


def test_reopen_keeps_objects_and_counter(tmp_path: Path) -> None:
    first = Store(tmp_path / "db")
    first.put("Service", svc("kept"), "ADDED")
    gone = first.put("Service", svc("gone"), "ADDED")
    first.remove("Service", "default", "gone")
    last_rv = first.rv
    first.close()
    again = Store(tmp_path / "db")
    try:
        assert again.rv == last_rv
        assert again.get("Service", "default", "kept") is not None
        assert again.get("Service", "default", "gone") is None
        assert int(again.put("Service", svc("new"), "ADDED")["metadata"]["resourceVersion"]) > last_rv
        with pytest.raises(TooOld):  # the window does not survive a restart
            again.subscribe("Service", int(gone["metadata"]["resourceVersion"]))
    finally:
        again.close()


def test_subscribe_backlog_then_live_events_with_prev(store: Store) -> None:
    async def scenario() -> None:
        start = store.rv
        store.put("Service", svc("a", app="1"), "ADDED")
        sub, backlog = store.subscribe("Service", start)
        assert [(e.type, e.obj["metadata"]["name"]) for e in backlog] == [("ADDED", "a")]
        changed = clone(store.get("Service", "default", "a"))
        changed["metadata"]["labels"] = {"app": "2"}
        store.put("Service", changed, "MODIFIED")
        event = await asyncio.wait_for(sub.queue.get(), 1)
        assert event.type == "MODIFIED"
        assert event.prev["metadata"]["labels"] == {"app": "1"}
        assert event.line().endswith(b"\n")
        store.unsubscribe(sub)

    asyncio.run(scenario())


def test_window_overflow_makes_old_versions_too_old(store: Store) -> None:
    start = store.rv
    for i in range(7):  # window holds 5
        store.put("Service", svc(f"s{i}"), "ADDED")
    with pytest.raises(TooOld) as err:
        store.subscribe("Service", start)
    assert "too old resource version" in str(err.value)
    _, backlog = store.subscribe("Service", store.rv - 3)
    assert len(backlog) == 3
