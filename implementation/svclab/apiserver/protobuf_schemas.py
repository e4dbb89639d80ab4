"""Protobuf schemas of the kinds kubectl's ``create`` subcommands send besides
Namespace and Service: ConfigMap, Secret, ServiceAccount (``create configmap|secret|serviceaccount``),
TokenRequest (``create token``), SelfSubjectReview (``auth whoami``), Deployment
(``create deployment``), Job (``create job``) and the RBAC kinds (``create role``,
``create rolebinding``, ``create clusterrole``, ``create clusterrolebinding``), the
self reviews of ``kubectl auth can-i`` and the events.k8s.io/v1 Events kube-proxy posts.

Field numbers are those of ``k8s.io/api``'s ``generated.proto``; only the fields
those commands fill (and the pod-template fields a user can reach through them)
are listed, others are skipped as unknown. :data:`SCHEMAS` includes the base
module's kinds.
"""

from __future__ import annotations

from collections.abc import Mapping

from .protobuf import KIND_SCHEMAS, OBJECT_META, ProtoField, ProtoType, Schema, message, scalar, strings

__all__ = ["SCHEMAS"]


_f, _msg, _strings = scalar, message, strings


def _ptr_int(name: str, kind: ProtoType = ProtoType.INT32) -> ProtoField:
    return ProtoField(name, kind, keep_zero=True)  # a Go *int: an explicit 0 stays


_LABEL_SELECTOR: Schema = {
    1: _f("matchLabels", ProtoType.STRING_MAP),
    2: _msg("matchExpressions", {1: _f("key"), 2: _f("operator"), 3: _strings("values")}, repeated=True),
}
_CONTAINER_PORT: Schema = {
    1: _f("name"),
    2: _f("hostPort", ProtoType.INT32),
    3: _f("containerPort", ProtoType.INT32),
    4: _f("protocol"),
    5: _f("hostIP"),
}
_ENV_VAR: Schema = {1: _f("name"), 2: _f("value")}
_CONTAINER: Schema = {
    1: _f("name"),
    2: _f("image"),
    3: _strings("command"),
    4: _strings("args"),
    5: _f("workingDir"),
    6: _msg("ports", _CONTAINER_PORT, repeated=True),
    7: _msg("env", _ENV_VAR, repeated=True),
    13: _f("terminationMessagePath"),
    14: _f("imagePullPolicy"),
    16: _f("stdin", ProtoType.BOOL),
    17: _f("stdinOnce", ProtoType.BOOL),
    18: _f("tty", ProtoType.BOOL),
    20: _f("terminationMessagePolicy"),
}
_POD_SPEC: Schema = {
    2: _msg("containers", _CONTAINER, repeated=True),
    3: _f("restartPolicy"),
    4: _ptr_int("terminationGracePeriodSeconds", ProtoType.INT64),
    5: _ptr_int("activeDeadlineSeconds", ProtoType.INT64),
    6: _f("dnsPolicy"),
    7: _f("nodeSelector", ProtoType.STRING_MAP),
    8: _f("serviceAccountName"),
    10: _f("nodeName"),
    16: _f("hostname"),
    17: _f("subdomain"),
    19: _f("schedulerName"),
    20: _msg("initContainers", _CONTAINER, repeated=True),
}
_POD_TEMPLATE: Schema = {1: _msg("metadata", OBJECT_META), 2: _msg("spec", _POD_SPEC)}

_DEPLOYMENT_SPEC: Schema = {
    1: _ptr_int("replicas"),
    2: _msg("selector", _LABEL_SELECTOR),
    3: _msg("template", _POD_TEMPLATE),
    4: _msg(
        "strategy",
        {
            1: _f("type"),
            2: _msg(
                "rollingUpdate",
                {
                    1: _f("maxUnavailable", ProtoType.INT_OR_STRING, keep_zero=True),
                    2: _f("maxSurge", ProtoType.INT_OR_STRING, keep_zero=True),
                },
            ),
        },
    ),
    5: _f("minReadySeconds", ProtoType.INT32),
    6: _ptr_int("revisionHistoryLimit"),
    7: _f("paused", ProtoType.BOOL),
    9: _ptr_int("progressDeadlineSeconds"),
}
_JOB_SPEC: Schema = {
    1: _ptr_int("parallelism"),
    2: _ptr_int("completions"),
    3: _ptr_int("activeDeadlineSeconds", ProtoType.INT64),
    4: _msg("selector", _LABEL_SELECTOR),
    5: _f("manualSelector", ProtoType.BOOL, keep_zero=True),
    6: _msg("template", _POD_TEMPLATE),
    7: _ptr_int("backoffLimit"),
    8: _ptr_int("ttlSecondsAfterFinished"),
    9: _f("completionMode", keep_zero=True),
    10: _f("suspend", ProtoType.BOOL, keep_zero=True),
}
_OBJECT_REFERENCE: Schema = {1: _f("kind"), 2: _f("namespace"), 3: _f("name"), 4: _f("uid"), 5: _f("apiVersion")}
_EVENT_REFERENCE: Schema = {**_OBJECT_REFERENCE, 6: _f("resourceVersion"), 7: _f("fieldPath")}
# events.k8s.io/v1 Event, as kube-proxy and other new-style recorders post it (issue 19)
_EVENT: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _f("eventTime", ProtoType.MICRO_TIME),
    3: _msg("series", {1: _f("count", ProtoType.INT32), 2: _f("lastObservedTime", ProtoType.MICRO_TIME)}),
    4: _f("reportingController"),
    5: _f("reportingInstance"),
    6: _f("action"),
    7: _f("reason"),
    8: _msg("regarding", _EVENT_REFERENCE),
    9: _msg("related", _EVENT_REFERENCE),
    10: _f("note"),
    11: _f("type"),
    12: _msg("deprecatedSource", {1: _f("component"), 2: _f("host")}),
    13: _f("deprecatedFirstTimestamp", ProtoType.TIME),
    14: _f("deprecatedLastTimestamp", ProtoType.TIME),
    15: _f("deprecatedCount", ProtoType.INT32),
}

_POLICY_RULE: Schema = {
    1: _strings("verbs"),
    2: _strings("apiGroups"),
    3: _strings("resources"),
    4: _strings("resourceNames"),
    5: _strings("nonResourceURLs"),
}
_BINDING: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("subjects", {1: _f("kind"), 2: _f("apiGroup"), 3: _f("name"), 4: _f("namespace")}, repeated=True),
    3: _msg("roleRef", {1: _f("apiGroup"), 2: _f("kind"), 3: _f("name")}),
}
_RBAC = "rbac.authorization.k8s.io/v1"
_RESOURCE_ATTRIBUTES: Schema = {
    1: _f("namespace"),
    2: _f("verb"),
    3: _f("group"),
    4: _f("version"),
    5: _f("resource"),
    6: _f("subresource"),
    7: _f("name"),
}
_ACCESS_REVIEW: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg(
        "spec",
        {
            1: _msg("resourceAttributes", _RESOURCE_ATTRIBUTES, keep_zero=True),
            2: _msg("nonResourceAttributes", {1: _f("path"), 2: _f("verb")}, keep_zero=True),
        },
    ),
}

SCHEMAS: Mapping[tuple[str, str], Schema] = {
    **KIND_SCHEMAS,
    ("v1", "ConfigMap"): {
        1: _msg("metadata", OBJECT_META),
        2: _f("data", ProtoType.STRING_MAP),
        3: _f("binaryData", ProtoType.BYTES_MAP),
        4: _f("immutable", ProtoType.BOOL, keep_zero=True),
    },
    ("v1", "Secret"): {
        1: _msg("metadata", OBJECT_META),
        2: _f("data", ProtoType.BYTES_MAP),
        3: _f("type"),
        4: _f("stringData", ProtoType.STRING_MAP),
        5: _f("immutable", ProtoType.BOOL, keep_zero=True),
    },
    ("v1", "ServiceAccount"): {
        1: _msg("metadata", OBJECT_META),
        2: _msg("secrets", _OBJECT_REFERENCE, repeated=True),
        3: _msg("imagePullSecrets", {1: _f("name")}, repeated=True),
        4: _f("automountServiceAccountToken", ProtoType.BOOL, keep_zero=True),
    },
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: _msg("metadata", OBJECT_META),
        2: _msg(
            "spec",
            {
                1: _strings("audiences"),
                4: _ptr_int("expirationSeconds", ProtoType.INT64),
                3: _msg("boundObjectRef", {}),
            },
        ),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: _msg("metadata", OBJECT_META)},
    ("apps/v1", "Deployment"): {1: _msg("metadata", OBJECT_META), 2: _msg("spec", _DEPLOYMENT_SPEC)},
    ("batch/v1", "Job"): {1: _msg("metadata", OBJECT_META), 2: _msg("spec", _JOB_SPEC)},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: _msg("metadata", OBJECT_META),
        2: _msg("spec", {1: _f("namespace")}),
    },
    (_RBAC, "Role"): {1: _msg("metadata", OBJECT_META), 2: _msg("rules", _POLICY_RULE, repeated=True)},
    (_RBAC, "ClusterRole"): {
        1: _msg("metadata", OBJECT_META),
        2: _msg("rules", _POLICY_RULE, repeated=True),
        3: _msg("aggregationRule", {1: _msg("clusterRoleSelectors", _LABEL_SELECTOR, repeated=True)}),
    },
    (_RBAC, "RoleBinding"): _BINDING,
    (_RBAC, "ClusterRoleBinding"): _BINDING,
    ("events.k8s.io/v1", "Event"): _EVENT,
}
