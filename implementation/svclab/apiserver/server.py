"""The HTTP face of the API server: authentication, routing and the verbs.

Paths follow kube-apiserver: /api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]] and
/apis/GROUP/VERSION/..., plus discovery, OpenAPI, /version and health checks.
Bodies are JSON (also without a Content-Type, as the official Python client
sends them) or kubectl's protobuf; answers are JSON, or meta.k8s.io Tables
when the client asks for them (`kubectl get`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from svclab.apimachinery.selection import SelectorError

from . import (
    apiextensions,
    authn,
    authz,
    deletion,
    discovery,
    errors,
    event_views,
    openapi,
    openapi_proto,
    printing,
    protobuf,
    scale,
    selectable,
    streaming,
)
from .negotiation import Form, dry_run_requested, negotiate_form, partial_object_metadata, partial_object_metadata_list
from .protobuf_schemas import SCHEMAS
from .registry import Registry
from .resources import VIRTUAL_KINDS, ResourceType, by_kind, by_path
from .storage import Obj, Store
from .watch import DEFAULT_TIMEOUT, WatchRequest, serve_watch
from .yaml_json import load_yaml_as_json

__all__ = ["ApiServer", "Route", "parse_path"]

log = logging.getLogger(__name__)
_PUBLIC = {"/healthz", "/livez", "/readyz", "/version"}
_CREATE_ONLY_SUBRESOURCES = {"binding", "token"}  # POST only
_STREAMING_SUBRESOURCES = {"log", "exec", "attach", "portforward"}  # proxied to the node agent (streaming.py)


@dataclass(frozen=True, slots=True)
class Route:
    resource: ResourceType
    namespace: str | None  # None: cluster-scoped kind or all namespaces
    name: str | None
    subresource: str | None
    watch: bool = False


def parse_path(path: str) -> Route | None:
    """The resource a request path addresses, or None when it addresses none."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = rest[:1] == ["watch"]
    rest = rest[1:] if watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    r = by_path(group, version, rest[0])
    if r is None or (namespace is not None and not r.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in r.subresources:
        return None
    return Route(r, namespace, name, sub, watch)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


@functools.cache
def _openapi_v2_bodies() -> tuple[bytes, bytes]:
    """(protobuf, JSON) of /openapi/v2, built once."""
    document = openapi.v2_document(discovery.KUBERNETES_VERSION)
    return openapi_proto.encode_document(document), orjson.dumps(document)


def _openapi_v2(accept: str) -> web.Response:
    """protobuf when the client asks for it (client-go always does), else JSON."""
    proto, as_json = _openapi_v2_bodies()
    if openapi_proto.MEDIA_TYPE in accept:
        # the body's type is named by the Accept the client sent; Go cannot parse that name
        # back ('@'), so, as kube-openapi does, the answer says octet-stream
        return web.Response(body=proto, content_type="application/octet-stream")
    return web.Response(body=as_json, content_type="application/json")


def _view_patch(content_type: str, body: bytes) -> bytes:
    """A PATCH body for an events.k8s.io/v1 Event, rewritten for the core Event it applies to."""
    try:
        patch = load_yaml_as_json(body) if "yaml" in content_type else orjson.loads(body)
    except Exception:
        return body  # undecodable: the patch code answers it with its usual 400
    return orjson.dumps(event_views.patch_to_core(content_type, patch))


def _form(request: web.Request, *, is_list: bool) -> Form:
    return negotiate_form(request.headers.get("Accept", ""), is_list=is_list)


def _dry_run(request: web.Request, options_kind: str) -> bool:
    return dry_run_requested(request.query.getall("dryRun", []), options_kind)


class ApiServer:
    """Builds the aiohttp application around a store and registry."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        token: str,
        *,
        server_address: str = "",
        bookmark_interval: float = 2.0,
        issuer: authn.TokenIssuer | None = None,
        agents: streaming.NodeAgents | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.token = token
        self.issuer = issuer
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.agents = agents or streaming.NodeAgents()
        self.ready = False

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._authenticate], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    # -- middleware ------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except errors.ApiError as exc:
            return _json(exc.status(), exc.code)
        except web.HTTPException:
            raise
        except Exception as exc:  # never a traceback to the client
            log.exception("%s %s failed", request.method, request.path)
            err = errors.internal(f"{type(exc).__name__}: {exc}")
            return _json(err.status(), 500)

    def authenticate(self, token: str, audiences: list[str] | None = None) -> authn.UserInfo | None:
        """The user a bearer token stands for: the admin token, or a ServiceAccount token."""
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return authn.ADMIN
        return self.issuer.verify(token, audiences) if self.issuer is not None else None

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path not in _PUBLIC:
            transport = request.transport
            user = authn.user_from_certificate(transport.get_extra_info("peercert") if transport else None)
            header = request.headers.get("Authorization", "")
            if user is None and header.startswith("Bearer "):
                user = self.authenticate(header[7:].strip())
            if user is None:
                raise errors.unauthorized()
            request["user"] = user
        response: web.StreamResponse = await handler(request)
        return response

    # -- routing ---------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        special = self._special(path, request.headers.get("Accept", ""))
        if special is not None:
            if request.method != "GET":
                raise errors.method_not_allowed()
            return special
        route = parse_path(path)
        if route is None:
            return _json(
                errors.ApiError(404, "NotFound", "the server could not find the requested resource").status(), 404
            )
        handler = {
            "GET": self._get,
            "POST": self._post,
            "PUT": self._put,
            "PATCH": self._patch,
            "DELETE": self._delete,
        }.get(request.method)
        if handler is None:
            raise errors.method_not_allowed()
        if route.resource.view:
            return await self._serve_view(request, route, handler)
        return await handler(request, route)

    @staticmethod
    async def _serve_view(request: web.Request, route: Route, handler: Any) -> web.StreamResponse:
        """A request through events.k8s.io/v1: reads go through the view (same storage, its
        list kind and bookmarks), writes through the core kind with converted bodies; JSON
        answers are converted back (event_views.py)."""
        request["view"] = route.resource
        if request.method != "GET":
            route = dataclasses.replace(route, resource=by_kind(route.resource.kind))
        try:
            response: web.StreamResponse = await handler(request, route)
        except errors.ApiError as exc:
            return _json(event_views.response_from_core(exc.status()), exc.code)
        if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.body:
            if response.content_type == "application/json":
                return _json(event_views.response_from_core(orjson.loads(response.body)), response.status)
        return response

    def _special(self, path: str, accept: str = "") -> web.Response | None:
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok" if self.ready else "not ready", status=200 if self.ready else 503)
        if path == "/version":
            return _json(discovery.version_info())
        if path == "/api":
            return _json(discovery.api_versions(self.server_address))
        if path == "/apis":
            return _json(discovery.api_group_list())
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list("", parts[1])
            return _json(doc) if doc else None
        if parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(parts[1], parts[2])
            return _json(doc) if doc else None
        if path == "/openapi/v3":
            return _json(discovery.openapi_v3_index())
        if path.startswith("/openapi/v3/"):
            rest = parts[2:]
            gv = (
                ("", rest[1])
                if rest[:1] == ["api"] and len(rest) == 2
                else ((rest[1], rest[2]) if rest[:1] == ["apis"] and len(rest) == 3 else None)
            )
            doc = discovery.openapi_v3_document(*gv) if gv else None
            return _json(doc) if doc else None
        if path == "/openapi/v2":
            return _openapi_v2(accept)
        return None

    # -- reads -----------------------------------------------------------------

    def _matcher(self, request: web.Request, r: ResourceType) -> Callable[[Obj], bool]:
        q = request.query
        try:
            return selectable.object_matcher(r.kind, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc

    def _table(
        self, request: web.Request, kind: str, objs: list[Obj], rv: str, cont: str | None = None
    ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        return printing.to_table(
            kind,
            objs,
            resource_version=rv,
            continue_token=cont,
            include_object=include,
            now=datetime.now(UTC),
            custom=apiextensions.table_printer(kind),
        )

    async def _get(self, request: web.Request, route: Route) -> web.StreamResponse:
        r = route.resource
        if r.kind in VIRTUAL_KINDS:
            raise errors.method_not_allowed()
        if route.name is None:
            if route.watch or request.query.get("watch") in ("true", "1"):
                return await self._watch(request, route)
            return self._list(request, route)
        if route.subresource == "scale":
            return _json(scale.get_scale(self.registry, r, route.namespace or "", route.name))
        if route.subresource in _STREAMING_SUBRESOURCES:
            return await self._stream(request, route, route.name)
        obj = self.store.get(r.kind, route.namespace or "", route.name)
        if obj is None or route.subresource not in (None, "status"):
            raise errors.not_found(r.group, r.plural, route.name)
        form = _form(request, is_list=False)
        if form is Form.TABLE:
            return _json(self._table(request, r.kind, [obj], obj["metadata"]["resourceVersion"]))
        return _json(partial_object_metadata(obj) if form is Form.METADATA else obj)

    def _list(self, request: web.Request, route: Route) -> web.Response:
        r, q = route.resource, request.query
        form = _form(request, is_list=True)
        matches = self._matcher(request, r)
        items = [o for o in self.store.list(r.kind, route.namespace) if matches(o)]
        rv = str(self.store.rv)
        start = None
        if q.get("continue"):
            try:
                token = orjson.loads(base64.urlsafe_b64decode(q["continue"]))
                rv, start = token["rv"], tuple(token["start"])
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request("invalid continue token") from exc
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        limit = int(q.get("limit", "0") or 0)
        cont = None
        meta: dict[str, Any] = {"resourceVersion": rv}
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            cont = base64.urlsafe_b64encode(
                orjson.dumps({"rv": rv, "start": [last.get("namespace", ""), last["name"]]})
            ).decode()
            meta["continue"] = cont
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if form is Form.TABLE:
            return _json(self._table(request, r.kind, items, rv, cont))
        if form is Form.METADATA:
            return _json(partial_object_metadata_list(items, meta))
        return _json({"kind": r.list_kind, "apiVersion": r.api_version, "metadata": meta, "items": items})

    async def _watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        q = request.query
        r = route.resource
        render = None
        form = _form(request, is_list=False)
        if form is Form.TABLE:

            def render(kind: str, obj: Obj) -> bytes:
                table = self._table(request, r.kind, [obj], obj["metadata"]["resourceVersion"])
                return orjson.dumps({"type": kind, "object": table}) + b"\n"

        elif form is Form.METADATA:

            def render(kind: str, obj: Obj) -> bytes:
                return orjson.dumps({"type": kind, "object": partial_object_metadata(obj)}) + b"\n"

        elif r.view:

            def render(kind: str, obj: Obj) -> bytes:
                return orjson.dumps({"type": kind, "object": event_views.from_core(obj)}) + b"\n"

        timeout = float(q.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        req = WatchRequest(
            r,
            route.namespace,
            self._matcher(request, r),
            q.get("resourceVersion"),
            q.get("sendInitialEvents") == "true",
            q.get("allowWatchBookmarks") == "true",
            timeout,
            render,
            ("meta.k8s.io/v1", "PartialObjectMetadata") if form is Form.METADATA else None,
        )
        return await serve_watch(request, self.store, req, self.bookmark_interval)

    # -- writes ----------------------------------------------------------------

    async def _body(self, request: web.Request) -> Obj:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "application/json")
        try:
            decoded: dict[str, Any]
            if ctype.startswith("application/vnd.kubernetes.protobuf"):
                decoded = protobuf.decode_k8s_protobuf(raw, SCHEMAS)
            elif "yaml" in ctype:
                decoded = load_yaml_as_json(raw)
            else:
                decoded = orjson.loads(raw) if raw else {}
            return event_views.to_core(decoded) if "view" in request else decoded
        except protobuf.ProtobufError as exc:
            raise errors.ApiError(415, "UnsupportedMediaType", str(exc)) from exc
        except Exception as exc:
            raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc

    async def _stream(self, request: web.Request, route: Route, name: str) -> web.StreamResponse:
        """pods/log (GET); pods/exec, attach and portforward (GET with a WebSocket upgrade; POST is SPDY's)."""
        namespace = route.namespace or ""
        if route.subresource == "log":
            if request.method != "GET":
                raise errors.method_not_allowed()
            return await streaming.serve_log(request, self.store, self.agents, namespace, name)
        if route.subresource == "portforward":
            return await streaming.serve_port_forward(request, self.store, self.agents, namespace, name)
        return await streaming.serve_exec(request, self.store, self.agents, namespace, name, route.subresource or "")

    async def _post(self, request: web.Request, route: Route) -> web.StreamResponse:
        r = route.resource
        if route.subresource in _STREAMING_SUBRESOURCES and route.name:
            return await self._stream(request, route, route.name)
        body = await self._body(request)
        dry_run = _dry_run(request, "CreateOptions")
        if r.kind in VIRTUAL_KINDS:
            return _json(self._review(request, route, body), 201)
        if route.subresource == "token" and route.name:
            if self.issuer is None:
                raise errors.method_not_allowed()
            return _json(authn.token_request(self.issuer, self.store, route.namespace or "", route.name, body), 201)
        if route.subresource == "binding" and route.name:
            return _json(self.registry.bind(route.namespace or "", route.name, body), 201)
        if route.name is not None:
            raise errors.method_not_allowed()
        namespace = route.namespace or ""
        if r.namespaced and route.namespace is None:
            raise errors.bad_request("the server could not find the requested resource (namespace required)")
        return _json(self.registry.create(r, namespace, body, dry_run=dry_run), 201)

    def _review(self, request: web.Request, route: Route, body: Obj) -> Obj:
        kind = route.resource.kind
        if kind == "TokenReview":
            return authn.token_review(self.authenticate, body)
        if kind == "SelfSubjectReview":
            return authn.self_subject_review(request["user"])
        if kind == "SelfSubjectRulesReview":
            return authz.rules_review(body)
        return authz.access_review(kind, body, route.namespace)

    @staticmethod
    def _writable_name(route: Route) -> str:
        """The name a PUT or PATCH writes: a stored object or its status, scale or finalize subresource."""
        if route.name is None or route.resource.kind in VIRTUAL_KINDS or route.subresource in _CREATE_ONLY_SUBRESOURCES:
            raise errors.method_not_allowed()
        return route.name

    async def _put(self, request: web.Request, route: Route) -> web.Response:
        name = self._writable_name(route)
        dry_run = _dry_run(request, "UpdateOptions")
        namespace = route.namespace or ""
        if route.subresource == "scale":
            body = await self._body(request)
            return _json(scale.update_scale(self.registry, route.resource, namespace, name, body, dry_run=dry_run))
        sub = route.subresource if route.subresource != "finalize" else None
        obj, created = self.registry.update(
            route.resource, namespace, name, await self._body(request), sub, dry_run=dry_run
        )
        return _json(obj, 201 if created else 200)

    async def _patch(self, request: web.Request, route: Route) -> web.Response:
        name = self._writable_name(route)
        dry_run = _dry_run(request, "PatchOptions")
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        namespace, body = route.namespace or "", await request.read()
        if "view" in request:
            body = _view_patch(ctype, body)
        if route.subresource == "scale":
            return _json(
                scale.patch_scale(self.registry, route.resource, namespace, name, ctype, body, dry_run=dry_run)
            )
        obj, created = self.registry.patch(
            route.resource, namespace, name, ctype, body, route.subresource, dry_run=dry_run
        )
        return _json(obj, 201 if created else 200)

    async def _delete(self, request: web.Request, route: Route) -> web.Response:
        if route.resource.kind in VIRTUAL_KINDS:
            raise errors.method_not_allowed()
        raw = await request.read()
        options: dict[str, Any] = orjson.loads(raw) if raw.strip() else {}
        q = request.query
        if "gracePeriodSeconds" in q:
            options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if "propagationPolicy" in q:
            options["propagationPolicy"] = q["propagationPolicy"]
        body_dry_run: list[str] = options["dryRun"] if isinstance(options.get("dryRun"), list) else []
        options["dryRun"] = dry_run_requested([*q.getall("dryRun", []), *body_dry_run], "DeleteOptions")
        r = route.resource
        if route.name is None:
            return _json(
                deletion.delete_collection(self.registry, r, route.namespace, self._matcher(request, r), options)
            )
        return _json(deletion.delete(self.registry, r, route.namespace or "", route.name, options))
