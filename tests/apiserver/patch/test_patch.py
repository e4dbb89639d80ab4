"""JSON patch, merge patch, strategic merge patch and the Content-Type dispatcher.

The "upstream" strategic cases are the raw test cases of apimachinery
strategicpatch/patch_test.go (current object + three-way patch -> result, list
order included), run against the test struct's tags rebuilt as MERGE_ITEM below.
The kind cases use Pods, Services and Nodes with names a..z and ports 80/443/8080.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from svclab.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    SERVER_SIDE_APPLY,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    PatchMeta,
    UnsupportedMediaType,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
    strategic_merge,
)


def merge_item(depth: int = 3) -> PatchMeta:
    """The tags of upstream's MergeItem test struct (recursive, cut at `depth`)."""
    inner = merge_item(depth - 1).fields if depth else {}
    return PatchMeta(
        fields={
            "mergingList": PatchMeta("merge", "name", inner),
            "mergeItemPtr": PatchMeta("merge", "name", inner),
            "mergingIntList": PatchMeta("merge"),
            "retainKeysMap": PatchMeta(fields=inner),
            "retainKeysMergingList": PatchMeta("merge", "name", inner),
            "replacingItem": PatchMeta("replace"),
        }
    )


MERGE_ITEM = merge_item()

# (description, current, patch, result), YAML as in upstream's raw test cases.
UPSTREAM_RAW_CASES = [
    (
        "retainKeys map nested merging int list with no change",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}",
        "retainKeysMap: {$retainKeys: [mergingIntList, name, value],"
        " $setElementOrder/mergingIntList: [1, 2], value: bar}",
        "retainKeysMap: {name: foo, value: bar, mergingIntList: [1, 2, 3]}",
    ),
    (
        "retainKeys map adds an item in nested merging int list",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}",
        "retainKeysMap: {$setElementOrder/mergingIntList: [1, 2, 4],"
        " $retainKeys: [mergingIntList, name], mergingIntList: [4]}",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 4, 3]}",
    ),
    (
        "retainKeys map deletes an item in nested merging int list",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3, 4]}",
        "retainKeysMap: {$retainKeys: [mergingIntList, name],"
        " $deleteFromPrimitiveList/mergingIntList: [2], $setElementOrder/mergingIntList: [1, 3]}",
        "retainKeysMap: {name: foo, mergingIntList: [1, 3, 4]}",
    ),
    (
        "retainKeys map adds an item and deletes an item in nested merging int list",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3, 4]}",
        "retainKeysMap: {$retainKeys: [mergingIntList, name], mergingIntList: [5],"
        " $deleteFromPrimitiveList/mergingIntList: [2], $setElementOrder/mergingIntList: [1, 3, 5]}",
        "retainKeysMap: {name: foo, mergingIntList: [1, 3, 5, 4]}",
    ),
    (
        "retainKeys map deletes nested merging int list",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}",
        "retainKeysMap: {$retainKeys: [name], mergingIntList: null}",
        "retainKeysMap: {name: foo}",
    ),
    (
        "retainKeys map nested merging list with no change",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name, value],"
        " $setElementOrder/mergingList: [{name: a}, {name: b}], value: bar}",
        "retainKeysMap: {name: foo, value: bar, mergingList: [{name: a}, {name: b}, {name: c}]}",
    ),
    (
        "retainKeys map adds an item in nested merging list",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name],"
        " $setElementOrder/mergingList: [{name: a}, {name: b}, {name: c}],"
        " mergingList: [{name: c}]}",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}, {name: x}]}",
    ),
    (
        "retainKeys map changes an item in nested merging list",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b, value: foo}, {name: x}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name],"
        " $setElementOrder/mergingList: [{name: a}, {name: b}],"
        " mergingList: [{name: b, value: bar}]}",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b, value: bar}, {name: x}]}",
    ),
    (
        "retainKeys map deletes nested merging list",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}]}",
        "retainKeysMap: {$retainKeys: [name, value], value: bar, mergingList: null}",
        "retainKeysMap: {name: foo, value: bar}",
    ),
    (
        "retainKeys map deletes an item in nested merging list",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name],"
        " $setElementOrder/mergingList: [{name: a}],"
        " mergingList: [{name: b, $patch: delete}]}",
        "retainKeysMap: {name: foo, mergingList: [{name: a}, {name: x}]}",
    ),
    (
        "retainKeys list of maps clears a field",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]",
        "{$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],"
        " retainKeysMergingList: [{$retainKeys: [name, value], name: foo}]}",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: a}]",
    ),
    (
        "retainKeys list of maps changes a field and clear a field with conflict",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: modified, other: x}]",
        "{$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],"
        " retainKeysMergingList: [{$retainKeys: [name, value], name: foo, value: new}]}",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: new}]",
    ),
    (
        "retainKeys list of maps deletes a field and clear a field",
        "retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]",
        "{$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],"
        " retainKeysMergingList: [{$retainKeys: [name], name: foo, value: null}]}",
        "retainKeysMergingList: [{name: bar}, {name: foo}]",
    ),
    (
        "delete and reorder in one list, reorder in another",
        "{mergingList: [{name: a, value: a}, {name: b, value: b}],"
        " mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}",
        "{$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d},"
        " {name: c}], mergingList: [{$patch: delete, name: a}]}",
        "{mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}",
    ),
]


@pytest.mark.parametrize(
    ("current", "patch", "result"), [c[1:] for c in UPSTREAM_RAW_CASES], ids=[c[0] for c in UPSTREAM_RAW_CASES]
)
def test_upstream_raw_strategic_cases(current: str, patch: str, result: str) -> None:
    doc, body = yaml.safe_load(current), yaml.safe_load(patch)
    before = copy.deepcopy((doc, body))
    assert strategic_merge(doc, body, MERGE_ITEM) == yaml.safe_load(result)
    assert (doc, body) == before  # neither input changed


GENERIC_CASES = [
    (
        "map merges and null deletes",
        "{name: a, value: b, simpleMap: {k: v}}",
        "{value: null, other: c, simpleMap: {k2: v2}}",
        "{name: a, other: c, simpleMap: {k: v, k2: v2}}",
    ),
    (
        "$patch replace on a map",
        "{simpleMap: {a: '1', b: '2'}}",
        "{simpleMap: {$patch: replace, c: '3'}}",
        "{simpleMap: {c: '3'}}",
    ),
    (
        "$patch delete on a map",
        "{simpleMap: {a: '1'}, name: x}",
        "{simpleMap: {$patch: delete}}",
        "{simpleMap: {}, name: x}",
    ),
    ("$patch replace at the root", "{name: a, value: b}", "{$patch: replace, name: z}", "{name: z}"),
    (
        "replace strategy map is replaced",
        "{replacingItem: {a: 1, b: 2}}",
        "{replacingItem: {c: 3}}",
        "{replacingItem: {c: 3}}",
    ),
    (
        "merging list merges by key and appends",
        "mergingList: [{name: a, value: 1}, {name: b}]",
        "mergingList: [{name: b, value: 2}, {name: c}]",
        "mergingList: [{name: a, value: 1}, {name: b, value: 2}, {name: c}]",
    ),
    (
        "new patch items come before later server items",
        "mergingList: [{name: a}, {name: b}]",
        "mergingList: [{name: c}]",
        "mergingList: [{name: c}, {name: a}, {name: b}]",
    ),
    (
        "list item $patch delete",
        "mergingList: [{name: a}, {name: b}, {name: c}]",
        "mergingList: [{name: b, $patch: delete}]",
        "mergingList: [{name: a}, {name: c}]",
    ),
    (
        "list $patch replace",
        "mergingList: [{name: a}, {name: b}]",
        "mergingList: [{name: x, value: null}, {$patch: replace}]",
        "mergingList: [{name: x}]",
    ),
    (
        "non-merging list replaced",
        "nonMergingList: [{name: a}, {name: b}]",
        "nonMergingList: [{name: c}]",
        "nonMergingList: [{name: c}]",
    ),
    (
        "merging int list is a set union",
        "mergingIntList: [1, 2]",
        "mergingIntList: [2, 3]",
        "mergingIntList: [1, 2, 3]",
    ),
    (
        "delete from primitive list",
        "mergingIntList: [1, 2, 3]",
        "{$deleteFromPrimitiveList/mergingIntList: [1, 3]}",
        "mergingIntList: [2]",
    ),
    (
        "delete from missing primitive list is a no-op",
        "{name: a}",
        "{$deleteFromPrimitiveList/mergingIntList: [1]}",
        "{name: a}",
    ),
    (
        "added values lose nested directives and nulls",
        "{name: a}",
        "mergingList: [{name: b, value: null}, {name: c, $patch: delete}]",
        "{name: a, mergingList: [{name: b}]}",
    ),
    ("type change replaces", "{value: [1]}", "{value: {a: 1}}", "{value: {a: 1}}"),
]


@pytest.mark.parametrize(
    ("current", "patch", "result"), [c[1:] for c in GENERIC_CASES], ids=[c[0] for c in GENERIC_CASES]
)
def test_strategic_merge_semantics(current: str, patch: str, result: str) -> None:
    merged = strategic_merge(yaml.safe_load(current), yaml.safe_load(patch), MERGE_ITEM)
    assert merged == yaml.safe_load(result)


STRATEGIC_ERRORS = [
    ("{name: {$patch: explode}}", 400, "unknown patch type: explode in map: map[$patch:explode]"),
    ("mergingList: [{value: 1}]", 422, "map: map[value:1] does not contain declared merge key: name"),
    ("mergingList: [{$patch: merge, name: a}]", 400, "merging lists cannot yet be specified"),
    ("{$retainKeys: [name], value: 1}", 400, "invalid patch format of retainKeys"),
    ("{$retainKeys: name}", 400, "invalid patch format of retainKeys"),
    ("{$deleteFromPrimitiveList/mergingIntList: 1}", 400, "invalid patch format of primitive list"),
    ("{$setElementOrder/mergingList: x}", 400, "invalid patch format of setElementOrder list"),
    (
        "{$setElementOrder/mergingList: [{name: a}], mergingList: [{name: b}]}",
        422,
        "doesn't match $setElementOrder list",
    ),
    ("mergingIntList: [[1]]", 400, "lists of lists are not supported"),
    ("mergingIntList: [1, a]", 422, "list element types are not identical"),
    ("simpleList: [{a: 1}]", None, None),
]


@pytest.mark.parametrize(("patch", "code", "message"), STRATEGIC_ERRORS, ids=[c[0][:40] for c in STRATEGIC_ERRORS])
def test_strategic_merge_errors(patch: str, code: int | None, message: str | None) -> None:
    doc = {"name": {"a": 1}, "mergingList": [{"name": "a"}], "mergingIntList": [1], "simpleList": [{"a": 0}]}
    if code is None:
        strategic_merge(doc, yaml.safe_load(patch), MERGE_ITEM)  # a list without tags: fine
        return
    with pytest.raises(PatchError) as caught:
        strategic_merge(doc, yaml.safe_load(patch), MERGE_ITEM)
    assert caught.value.code == code
    assert message is not None and message in str(caught.value)


# --- strategic merge patch of served kinds ----------------------------------------


def service(*ports: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", **metadata},
        "spec": {"selector": {"app": "web"}, "ports": list(ports)},
    }


def port(number: int, target: int | str | None = None, **extra: Any) -> dict[str, Any]:
    return {"port": number, "protocol": "TCP", "targetPort": target or number, **extra}


def test_kubectl_apply_patch_updates_port_and_annotation() -> None:
    # The exact body kubectl apply sends after changing targetPort and the annotation.
    live = service(port(80, 8080), annotations={"kubectl.kubernetes.io/last-applied-configuration": "{old}"})
    body = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{new}"}},
        "spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"port": 80, "targetPort": 9376}]},
    }
    result = apply_strategic_merge_patch(live, body, "Service")
    assert result["spec"]["ports"] == [port(80, 9376)]
    assert result["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{new}"}
    assert live["spec"]["ports"] == [port(80, 8080)]


def test_kubectl_apply_patch_deletes_and_adds_ports_in_order() -> None:
    live = service(port(80), port(443), port(8443))
    body = {
        "spec": {
            "$setElementOrder/ports": [{"port": 8080}, {"port": 443}],
            "ports": [{"port": 8080, "targetPort": 80}, {"$patch": "delete", "port": 80}],
        }
    }
    result = apply_strategic_merge_patch(live, body, "Service")
    assert [p["port"] for p in result["spec"]["ports"]] == [8080, 443, 8443]
    assert result["spec"]["ports"][0] == {"port": 8080, "targetPort": 80}


def test_delete_directive_alone_removes_one_port() -> None:
    body = {"spec": {"ports": [{"$patch": "delete", "port": 80}]}}
    result = apply_strategic_merge_patch(service(port(80), port(443)), body, "Service")
    assert result["spec"]["ports"] == [port(443)]


KIND_CASES = [
    (
        "Pod",
        {"spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}]}},
        {"spec": {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}]}},
        {
            "spec": {
                "containers": [
                    {"name": "a", "image": "x", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}
                ]
            }
        },
    ),
    (
        "Pod",
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}},
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}},
    ),
    (
        "Pod",
        {"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}},
        {"spec": {"tolerations": [{"key": "c"}]}},
        {"spec": {"tolerations": [{"key": "c"}]}},
    ),
    (
        "Pod",
        {"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}},
        {"spec": {"volumes": [{"name": "v", "emptyDir": {}, "$retainKeys": ["emptyDir", "name"]}]}},
        {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}},
    ),
    (
        "Pod",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}},
    ),
    (
        "Node",
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}]
            }
        },
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}},
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}]
            }
        },
    ),
    (
        "Node",
        {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}},
        {"spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]}},
        {"spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]}},
    ),
    (
        "Service",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}},
        {"metadata": {"finalizers": ["c", "b"]}},
    ),
    (
        "Service",
        {"metadata": {"ownerReferences": [{"uid": "1", "name": "x"}]}},
        {"metadata": {"ownerReferences": [{"uid": "2", "name": "y"}]}},
        {"metadata": {"ownerReferences": [{"uid": "2", "name": "y"}, {"uid": "1", "name": "x"}]}},
    ),
    (
        "Service",
        {"spec": {"selector": {"a": "1"}, "clusterIPs": ["10.0.0.1"]}},
        {"spec": {"selector": {"b": "2"}, "clusterIPs": ["10.0.0.2"]}},
        {"spec": {"selector": {"a": "1", "b": "2"}, "clusterIPs": ["10.0.0.2"]}},
    ),
    (
        "Endpoints",
        {"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]},
    ),
    (
        "EndpointSlice",
        {"endpoints": [{"addresses": ["10.0.0.1"]}]},
        {"endpoints": [{"addresses": ["10.0.0.2"]}]},
        {"endpoints": [{"addresses": ["10.0.0.2"]}]},
    ),
]


@pytest.mark.parametrize(
    ("kind", "live", "patch", "result"), KIND_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(KIND_CASES)]
)
def test_strategic_merge_uses_the_kinds_merge_keys(
    kind: str, live: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(live, patch, kind) == result


def test_result_does_not_alias_the_patch() -> None:
    patch = {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 1}]}}
    result = apply_strategic_merge_patch({"metadata": {}}, patch, "Service")
    result["metadata"]["labels"]["a"] = "changed"
    result["spec"]["ports"][0]["port"] = 2
    assert patch == {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 1}]}}


# --- JSON patch and merge patch --------------------------------------------------


def test_json_patch_applies_operations_without_touching_input() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}}
    ops = [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/spec/ports/0/port", "value": 81},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "test", "path": "/spec/ports/0/port", "value": 81},
    ]
    assert apply_json_patch(doc, ops) == {"metadata": {"labels": {"b": "2"}}, "spec": {"ports": [{"port": 81}]}}
    assert doc == {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}}


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "test", "path": "/a", "value": 2}], 422),
        ([{"op": "remove", "path": "/missing"}], 422),
        ([{"op": "replace", "path": "/a/b/c", "value": 1}], 422),
        ([{"op": "frobnicate", "path": "/a"}], 422),
        ([{"path": "/a"}], 422),
        ({"op": "add"}, 400),
        ([{"op": "replace", "path": "", "value": [1]}], 422),
    ],
    ids=["test-fails", "remove-missing", "bad-path", "unknown-op", "no-op", "not-a-list", "result-not-object"],
)
def test_json_patch_errors(ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch({"a": 1}, ops)
    assert caught.value.code == code


def test_merge_patch_leaves_the_document_alone() -> None:
    # The RFC 7386 examples run against merge_patch itself in tests/apimachinery.
    doc = {"a": {"b": "c"}, "d": ["e"]}
    assert apply_merge_patch(doc, {"a": {"b": "d", "c": None}, "d": None}) == {"a": {"b": "d"}}
    assert doc == {"a": {"b": "c"}, "d": ["e"]}


# --- dispatch by Content-Type ---------------------------------------------------

LIVE = service(port(80))


@pytest.mark.parametrize(
    ("content_type", "body", "ports"),
    [
        (JSON_PATCH, [{"op": "replace", "path": "/spec/ports/0/port", "value": 81}], [81]),
        (MERGE_PATCH, {"spec": {"ports": [{"port": 82}]}}, [82]),
        (STRATEGIC_MERGE_PATCH, {"spec": {"ports": [{"port": 83}]}}, [83, 80]),
        (STRATEGIC_MERGE_PATCH + "; charset=utf-8", {"spec": {"ports": [{"port": 84}]}}, [84, 80]),
        (
            SERVER_SIDE_APPLY,
            {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 9}]}},
            [80],
        ),
    ],
    ids=["json-patch", "merge-patch", "strategic", "strategic-with-charset", "apply"],
)
def test_apply_patch_dispatches_on_content_type(content_type: str, body: Any, ports: list[int]) -> None:
    result = apply_patch(content_type, LIVE, json.dumps(body).encode(), "Service")
    assert [p["port"] for p in result["spec"]["ports"]] == ports


def test_server_side_apply_accepts_yaml_and_creates_from_nothing() -> None:
    body = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"
    assert apply_patch(SERVER_SIDE_APPLY, {}, body, "Service") == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]},
    }


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        (STRATEGIC_MERGE_PATCH, b"{not json", 400),
        (STRATEGIC_MERGE_PATCH, b"[1]", 400),
        (MERGE_PATCH, b'"x"', 400),
        (JSON_PATCH, b"", 400),
        (SERVER_SIDE_APPLY, b"- a\n- b\n", 400),
        (SERVER_SIDE_APPLY, b"a: [\n", 400),
        ("application/json", b"{}", 415),
        ("", b"{}", 415),
    ],
    ids=[
        "smp-bad-json",
        "smp-not-object",
        "merge-not-object",
        "json-patch-empty",
        "apply-not-object",
        "apply-bad-yaml",
        "plain-json",
        "no-content-type",
    ],
)
def test_apply_patch_bad_bodies(content_type: str, body: bytes, code: int) -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch(content_type, LIVE, body, "Service")
    assert caught.value.code == code
    assert isinstance(caught.value, UnsupportedMediaType) is (code == 415)
