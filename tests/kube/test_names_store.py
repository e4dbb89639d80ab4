"""NamespacedName and Store.  Objects: pods a, b in ns1, c in ns2, labelled app=x|y."""

from __future__ import annotations

import pytest
from kube_builders import make_pod, names
from lightkube.resources.core_v1 import Pod

from svclab.kube import NAMESPACE_INDEX, NamespacedName, Store


@pytest.mark.parametrize(
    ("key", "text"),
    [(NamespacedName("ns", "a"), "ns/a"), (NamespacedName("", "node1"), "node1")],
    ids=["namespaced", "cluster-scoped"],
)
def test_namespaced_name_str_and_parse(key: NamespacedName, text: str) -> None:
    assert str(key) == text
    assert NamespacedName.parse(text) == key


def test_namespaced_name_of_object_and_dict() -> None:
    assert NamespacedName.of(make_pod("a", "ns1")) == NamespacedName("ns1", "a")
    assert NamespacedName.of({"metadata": {"name": "n"}}) == NamespacedName("", "n")
    with pytest.raises(ValueError):
        NamespacedName.of({"metadata": {}})


def test_namespaced_names_sort_by_namespace_then_name() -> None:
    keys = [NamespacedName("b", "a"), NamespacedName("a", "z"), NamespacedName("a", "b")]
    assert [str(k) for k in sorted(keys)] == ["a/b", "a/z", "b/a"]


def _app_index(pod: Pod) -> list[str]:
    labels = (pod.metadata.labels if pod.metadata else None) or {}
    return [f"app={labels['app']}"] if "app" in labels else []


def _filled_store() -> Store[Pod]:
    store: Store[Pod] = Store()
    store.add_index("app", _app_index)
    store.replace(
        [
            make_pod("b", labels={"app": "x"}),
            make_pod("a", labels={"app": "x"}),
            make_pod("c", "ns2", labels={"app": "y"}),
        ],
        "7",
    )
    return store


def test_store_get_list_keys_sorted() -> None:
    store = _filled_store()
    assert names(store.list()) == ["a", "b", "c"]
    assert store.keys() == [NamespacedName("ns1", "a"), NamespacedName("ns1", "b"), NamespacedName("ns2", "c")]
    assert store.get(NamespacedName("ns2", "c")) is not None
    assert store.get(NamespacedName("ns1", "c")) is None
    assert store.resource_version == "7"


def test_store_namespace_and_custom_indexes() -> None:
    store = _filled_store()
    assert names(store.by_index(NAMESPACE_INDEX, "ns1")) == ["a", "b"]
    assert names(store.by_index("app", "app=x")) == ["a", "b"]
    assert store.by_index("app", "app=z") == []
    with pytest.raises(KeyError):
        store.by_index("nope", "x")


def test_store_upsert_moves_object_between_index_values() -> None:
    store = _filled_store()
    old = store.upsert(make_pod("a", labels={"app": "y"}))
    assert old is not None and old.metadata is not None and old.metadata.labels == {"app": "x"}
    assert names(store.by_index("app", "app=x")) == ["b"]
    assert names(store.by_index("app", "app=y")) == ["a", "c"]


def test_store_delete_unindexes_even_if_cached_object_was_mutated() -> None:
    store = _filled_store()
    cached = store.get(NamespacedName("ns1", "a"))
    assert cached is not None and cached.metadata is not None
    cached.metadata.labels = {"app": "mutated"}
    store.delete(NamespacedName("ns1", "a"))
    assert names(store.by_index("app", "app=x")) == ["b"]
    assert store.index_keys("app", "app=mutated") == []
    assert store.delete(NamespacedName("ns1", "a")) is None


def test_store_index_added_late_covers_existing_objects() -> None:
    store: Store[Pod] = Store()
    store.upsert(make_pod("a", labels={"app": "x"}))
    store.add_index("app", _app_index)
    assert names(store.by_index("app", "app=x")) == ["a"]
    with pytest.raises(ValueError):
        store.add_index("app", _app_index)


def test_store_replace_drops_previous_objects_and_index_entries() -> None:
    store = _filled_store()
    store.replace([make_pod("d", "ns2")], "9")
    assert names(store.list()) == ["d"]
    assert store.by_index(NAMESPACE_INDEX, "ns1") == []
    assert store.by_index("app", "app=x") == []
