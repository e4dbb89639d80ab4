"""Field error rendering and the 422 Status, against upstream's printed forms.

Expected strings come from apimachinery's ``field/errors.go`` (ErrorBody) and
``api/errors.NewInvalid``; the aggregate format (single error bare, several in
brackets, duplicates once) from ``util/errors``.
"""

from __future__ import annotations

import pytest

from svclab.apiserver.validation import ErrorType, FieldError, invalid_status
from svclab.apiserver.validation.errors import (
    GoLiteral,
    dedupe,
    duplicate,
    forbidden,
    go_quote,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(required("metadata.name"), "Required value", id="required-bare"),
        pytest.param(
            required("metadata.name", "name or generateName is required"),
            "Required value: name or generateName is required",
            id="required-detail",
        ),
        pytest.param(
            invalid("spec.ports[0].port", 0, "must be between 1 and 65535, inclusive"),
            "Invalid value: 0: must be between 1 and 65535, inclusive",
            id="invalid-int",
        ),
        pytest.param(invalid("x", 'a"b\n', "bad"), 'Invalid value: "a\\"b\\n": bad', id="invalid-string-go-quoted"),
        pytest.param(
            invalid("x", None, "must not update from a positive integer to nil value"),
            "Invalid value: null: must not update from a positive integer to nil value",
            id="invalid-nil",
        ),
        pytest.param(invalid("x", True, "d"), "Invalid value: true: d", id="invalid-bool"),
        pytest.param(
            invalid("spec.clusterIPs", ["1.2.3.4", "5.6.7.8"], "may only hold up to 2 values"),
            'Invalid value: []string{"1.2.3.4", "5.6.7.8"}: may only hold up to 2 values',
            id="invalid-slice",
        ),
        pytest.param(
            not_supported("spec.ports[0].protocol", "SCTPX", ["SCTP", "TCP", "UDP"]),
            'Unsupported value: "SCTPX": supported values: "SCTP", "TCP", "UDP"',
            id="not-supported",
        ),
        pytest.param(duplicate("spec.ports[1].name", "http"), 'Duplicate value: "http"', id="duplicate"),
        pytest.param(
            duplicate("x", GoLiteral("core.Thing{A:1}")), "Duplicate value: core.Thing{A:1}", id="duplicate-go-literal"
        ),
        pytest.param(
            forbidden("spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"),
            "Forbidden: may not be used when `type` is 'ClusterIP'",
            id="forbidden-hides-value",
        ),
        pytest.param(
            too_long("metadata.annotations", 262144), "Too long: must have at most 262144 bytes", id="too-long"
        ),
        pytest.param(too_many("endpoints", 1001, 1000), "Too many: 1001: must have at most 1000 items", id="too-many"),
    ],
)
def test_message_matches_upstream_error_body(error: FieldError, message: str) -> None:
    assert error.message() == message
    assert error.cause() == {"reason": error.type.value, "message": message, "field": error.field}
    assert str(error) == f"{error.field}: {message}"


def test_error_type_values_are_status_cause_reasons() -> None:
    assert [t.value for t in ErrorType] == [
        "FieldValueRequired",
        "FieldValueInvalid",
        "FieldValueNotSupported",
        "FieldValueDuplicate",
        "FieldValueForbidden",
        "FieldValueTooLong",
        "FieldValueTooMany",
    ]


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain", '"plain"'),
        ("tab\there", '"tab\\there"'),
        ("back\\slash", '"back\\\\slash"'),
        ("\x01", '"\\x01"'),
        ("ümlaut", '"ümlaut"'),
    ],
)
def test_go_quote(raw: str, quoted: str) -> None:
    assert go_quote(raw) == quoted


def test_single_error_status_has_no_brackets() -> None:
    errs = [invalid("metadata.name", "Foo_Bar", "bad name")]
    status = invalid_status("Service", "", "Foo_Bar", errs)
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Service "Foo_Bar" is invalid: metadata.name: Invalid value: "Foo_Bar": bad name',
        "reason": "Invalid",
        "details": {
            "name": "Foo_Bar",
            "kind": "Service",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": 'Invalid value: "Foo_Bar": bad name',
                    "field": "metadata.name",
                }
            ],
        },
        "code": 422,
    }


def test_several_errors_are_bracketed_and_deduplicated_in_the_message_only() -> None:
    port = forbidden("spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'")
    other = forbidden("spec.ports[1].nodePort", "may not be used when `type` is 'ClusterIP'")
    status = invalid_status("Service", "", "portworx-service", [port, other, port])
    assert status["message"] == (
        'Service "portworx-service" is invalid: [spec.ports[0].nodePort: Forbidden: may not be used when '
        "`type` is 'ClusterIP', spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP']"
    )
    assert len(status["details"]["causes"]) == 3  # type: ignore[index]


def test_group_qualifies_kind_in_message_and_details() -> None:
    status = invalid_status("EndpointSlice", "discovery.k8s.io", "s1", [required("addressType")])
    assert status["message"] == 'EndpointSlice.discovery.k8s.io "s1" is invalid: addressType: Required value'
    assert status["details"] == {
        "name": "s1",
        "group": "discovery.k8s.io",
        "kind": "EndpointSlice",
        "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "addressType"}],
    }


def test_dedupe_keeps_first_occurrence_in_order() -> None:
    a, b = required("a"), required("b")
    assert dedupe([a, b, required("a"), b]) == [a, b]
