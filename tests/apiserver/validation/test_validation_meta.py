"""ObjectMeta rules on every kind: names per kind, namespaces, labels, annotations,
owner references, finalizers, and the immutable fields on update.

Expected messages follow apimachinery's objectmeta_test.go and core's validation_test.go.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from validation_builders import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    NAME_PART,
    Obj,
    endpoint_slice,
    endpoints,
    event,
    lease,
    mutated,
    namespace,
    node,
    pod,
    rendered,
    service,
)

from svclab.apiserver.validation import validate_create, validate_update

BUILDERS: dict[str, Callable[[], Obj]] = {
    "Service": service,
    "Endpoints": endpoints,
    "EndpointSlice": endpoint_slice,
    "Pod": pod,
    "Node": node,
    "Namespace": namespace,
    "Event": event,
    "Lease": lease,
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_builders_are_valid(kind: str) -> None:
    assert validate_create(kind, BUILDERS[kind]()) == []


@pytest.mark.parametrize(
    ("kind", "name", "detail"),
    [
        pytest.param("Service", "1svc", DNS1035_LABEL, id="service-dns1035"),
        pytest.param("Service", "svc.a", DNS1035_LABEL, id="service-no-dots"),
        pytest.param("Namespace", "ns.a", "must not contain dots", id="namespace-dns1123-label"),
        pytest.param("Pod", "Web_0", DNS1123_SUBDOMAIN, id="pod-subdomain"),
        pytest.param("Node", "Node_1", DNS1123_SUBDOMAIN, id="node-subdomain"),
        pytest.param("Endpoints", "Svc", DNS1123_SUBDOMAIN, id="endpoints-subdomain"),
        pytest.param("EndpointSlice", "s_1", DNS1123_SUBDOMAIN, id="endpointslice-subdomain"),
        pytest.param("Lease", "Lease", DNS1123_SUBDOMAIN, id="lease-subdomain"),
        pytest.param("Event", "a/b", "may not contain '/'", id="event-path-segment"),
    ],
)
def test_invalid_names_per_kind(kind: str, name: str, detail: str) -> None:
    obj = mutated(BUILDERS[kind], lambda o: o["metadata"].update(name=name))
    assert rendered(validate_create(kind, obj)) == [f'metadata.name: Invalid value: "{name}": {detail}']


@pytest.mark.parametrize("kind", ["Pod", "Service", "Node", "Lease"])
def test_dotted_names_are_fine_where_subdomains_are_allowed(kind: str) -> None:
    obj = mutated(BUILDERS[kind], lambda o: o["metadata"].update(name="a.b"))
    expected = [f'metadata.name: Invalid value: "a.b": {DNS1035_LABEL}'] if kind == "Service" else []
    assert rendered(validate_create(kind, obj)) == expected


def _set_meta(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for key, value in fields.items():
            if value is None:
                obj["metadata"].pop(key, None)
            else:
                obj["metadata"][key] = value

    return mutate


@pytest.mark.parametrize(
    ("kind", "mutation", "expected"),
    [
        pytest.param(
            "Pod",
            _set_meta(name=None),
            ["metadata.name: Required value: name or generateName is required"],
            id="name-required",
        ),
        pytest.param(
            "Pod",
            _set_meta(name="web-abcde", generateName="Web-"),
            [f'metadata.generateName: Invalid value: "Web-": {DNS1123_SUBDOMAIN}'],
            id="bad-generate-name",
        ),
        pytest.param(
            "Service", _set_meta(namespace=None), ["metadata.namespace: Required value"], id="namespace-required"
        ),
        pytest.param(
            "Service",
            _set_meta(namespace="NS"),
            [f'metadata.namespace: Invalid value: "NS": {DNS1123_LABEL}'],
            id="namespace-format",
        ),
        pytest.param(
            "Node",
            _set_meta(namespace="default"),
            ["metadata.namespace: Forbidden: not allowed on this type"],
            id="namespace-on-cluster-scoped",
        ),
        pytest.param(
            "Pod",
            _set_meta(generation=-1),
            ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"],
            id="generation",
        ),
        pytest.param(
            "Pod",
            _set_meta(labels={"-bad": "ok", "good": "bad value"}),
            [
                f'metadata.labels: Invalid value: "-bad": {NAME_PART}',
                f'metadata.labels: Invalid value: "bad value": {LABEL_VALUE}',
            ],
            id="labels",
        ),
        pytest.param(
            "Pod",
            _set_meta(labels={"app": "v" * 64}),
            [f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 characters'],
            id="label-too-long",
        ),
        pytest.param(
            "Pod",
            _set_meta(annotations={"Example.COM/Key": "x", "bad key": "x"}),
            [f'metadata.annotations: Invalid value: "bad key": {NAME_PART}'],
            id="annotation-keys-caseless",
        ),
        pytest.param(
            "Pod",
            _set_meta(annotations={"big": "x" * (256 * 1024)}),
            ["metadata.annotations: Too long: must have at most 262144 bytes"],
            id="annotations-size",
        ),
        pytest.param(
            "Pod",
            _set_meta(ownerReferences=[{"apiVersion": "", "kind": "", "name": "", "uid": ""}]),
            [
                'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
                'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
                'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
                'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
            ],
            id="owner-reference-fields",
        ),
        pytest.param(
            "Pod",
            _set_meta(ownerReferences=[{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"}]),
            [
                'metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:"v1", Kind:"Event", Name:"e", '
                'UID:"u", Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed '
                "from being an owner"
            ],
            id="banned-owner",
        ),
        pytest.param(
            "EndpointSlice",
            _set_meta(
                ownerReferences=[
                    {"apiVersion": "v1", "kind": "Service", "name": "a", "uid": "1", "controller": True},
                    {"apiVersion": "v1", "kind": "Service", "name": "b", "uid": "2", "controller": True},
                ]
            ),
            [
                'metadata.ownerReferences: Invalid value: []v1.OwnerReference{v1.OwnerReference{APIVersion:"v1", '
                'Kind:"Service", Name:"a", UID:"1", Controller:(*bool)(true), BlockOwnerDeletion:(*bool)(nil)}, '
                'v1.OwnerReference{APIVersion:"v1", Kind:"Service", Name:"b", UID:"2", Controller:(*bool)(true), '
                'BlockOwnerDeletion:(*bool)(nil)}}: Only one reference can have Controller set to true. Found "true" '
                "in references for Service/a and Service/b"
            ],
            id="two-controllers",
        ),
        pytest.param(
            "Pod", _set_meta(finalizers=["example.com/cleanup", "kubernetes", "orphan"]), [], id="finalizers-valid"
        ),
        pytest.param(
            "Pod",
            _set_meta(finalizers=["custom"]),
            [
                'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is '
                "it fully qualified"
            ],
            id="finalizer-not-qualified",
        ),
        pytest.param("Lease", _set_meta(finalizers=["custom"]), [], id="finalizer-rule-is-core-only"),
        pytest.param(
            "Pod",
            _set_meta(finalizers=["orphan", "foregroundDeletion"]),
            [
                'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and '
                "foregroundDeletion cannot be both set"
            ],
            id="conflicting-finalizers",
        ),
    ],
)
def test_object_meta_on_create(kind: str, mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create(kind, mutated(BUILDERS[kind], mutation))) == expected


@pytest.mark.parametrize(
    ("field", "new_value", "expected"),
    [
        pytest.param("name", "svc2", ['metadata.name: Invalid value: "svc2": field is immutable'], id="name"),
        pytest.param(
            "namespace", "ns2", ['metadata.namespace: Invalid value: "ns2": field is immutable'], id="namespace"
        ),
        pytest.param("uid", "uid-2", ['metadata.uid: Invalid value: "uid-2": field is immutable'], id="uid"),
        pytest.param(
            "creationTimestamp",
            "2024-05-02T11:30:00Z",
            ["metadata.creationTimestamp: Invalid value: 2024-05-02 11:30:00 +0000 UTC: field is immutable"],
            id="creation-timestamp",
        ),
        pytest.param(
            "generation",
            -5,
            [
                "metadata.generation: Invalid value: -5: must not be decremented",
                "metadata.generation: Invalid value: -5: must be greater than or equal to 0",
            ],
            id="generation-decremented",
        ),
        pytest.param("resourceVersion", None, [], id="resource-version-left-to-server"),
        pytest.param("labels", {"app": "web", "tier": "front"}, [], id="labels-mutable"),
    ],
)
def test_object_meta_on_update(field: str, new_value: Any, expected: list[str]) -> None:
    old = service()
    old["metadata"]["generation"] = 1
    new = copy.deepcopy(old)
    if new_value is None:
        new["metadata"].pop(field)
    else:
        new["metadata"][field] = new_value
    assert rendered(validate_update("Service", new, old)) == expected


def test_no_new_finalizers_while_deleting() -> None:
    old = mutated(
        pod,
        _set_meta(
            deletionTimestamp="2024-05-01T11:00:00Z", deletionGracePeriodSeconds=30, finalizers=["example.com/a"]
        ),
    )
    new = mutated(lambda: old, _set_meta(finalizers=["example.com/a", "example.com/b", "example.com/c"]))
    assert rendered(validate_update("Pod", new, old)) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new "
        'finalizers []string{"example.com/b", "example.com/c"}'
    ]


def test_deletion_fields_are_immutable() -> None:
    old = mutated(pod, _set_meta(deletionTimestamp="2024-05-01T11:00:00Z", deletionGracePeriodSeconds=30))
    new = mutated(lambda: old, _set_meta(deletionTimestamp=None, deletionGracePeriodSeconds=0))
    assert rendered(validate_update("Pod", new, old)) == [
        "metadata.deletionTimestamp: Invalid value: null: field is immutable",
        "metadata.deletionGracePeriodSeconds: Invalid value: 0: field is immutable",
    ]


def test_update_reports_label_errors_once() -> None:
    old = service()
    new = mutated(service, _set_meta(labels={"a": "-"}))
    assert rendered(validate_update("Service", new, old)) == [f'metadata.labels: Invalid value: "-": {LABEL_VALUE}']


def test_unknown_kind_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        validate_create("CustomResourceDefinition", {"metadata": {"name": "x"}})


JUNK: list[tuple[str, Callable[[Obj], None]]] = [
    ("spec-is-a-list", lambda o: o.update(spec=[1, 2])),
    ("metadata-maps-are-lists", lambda o: o["metadata"].update(labels=["a"], annotations=3, finalizers="x")),
    ("numbers-as-strings", lambda o: o.update(spec={"ports": "80", "containers": [1], "podCIDRs": [None]})),
    (
        "nested-nulls",
        lambda o: o.update(
            spec={"ports": [None, {"port": None, "targetPort": None}], "containers": [{"name": None, "ports": [None]}]},
            subsets=[None],
            endpoints=[{"addresses": None}],
        ),
    ),
]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize(("mutation",), [pytest.param(m, id=i) for i, m in JUNK])
def test_badly_typed_objects_give_field_errors_not_exceptions(kind: str, mutation: Callable[[Obj], None]) -> None:
    obj = mutated(BUILDERS[kind], mutation)
    for errors in (validate_create(kind, obj), validate_update(kind, obj, BUILDERS[kind]())):
        assert all(isinstance(e.field, str) and e.message() for e in errors)


def test_public_names_are_listed_and_sorted() -> None:
    import inspect
    from importlib import import_module

    for module_name in ("errors", "formats", "meta", "service", "endpoints", "pod", "cluster", "access"):
        module = import_module(f"svclab.apiserver.validation.{module_name}")
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__
        }
        assert module.__all__ == sorted(module.__all__), module_name
        assert public <= set(module.__all__), module_name
