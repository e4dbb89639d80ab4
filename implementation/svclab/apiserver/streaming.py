"""``pods/log``, ``pods/exec`` and ``pods/attach``: proxied to the pod's node agent.

As kube-apiserver does (upstream ``pkg/registry/core/pod/rest/log.go`` and
``subresources.go``), the API server checks the request against the stored Pod
- it exists, names a container it has (or has only one), is bound to a node -
and then hands the stream to that node's agent, which plays kubelet
(:mod:`svclab.testbed.local.agent.server`). Where an agent listens comes from
a template with ``{node}`` (``svclab apiserver --node-agent-socket``): on a
local cluster a Unix socket in each node's state directory.

``log`` is a plain streamed GET. ``exec`` and ``attach`` are WebSocket upgrades
(subprotocol ``v5.channel.k8s.io`` or ``v4.channel.k8s.io``, see
:mod:`svclab.apimachinery.remotecommand`): the API server opens the same kind
of WebSocket to the agent and relays messages both ways until either side
closes. ``portforward`` is kubectl's SPDY/3.1 tunnelled in a WebSocket
(``SPDY/3.1+portforward.k8s.io``), or plain WebSocket channels (subprotocol
``v4.channel.k8s.io``, ``channel.k8s.io`` or none, ports in ``?ports=``, as
kubelet's websocket.go serves them), relayed the same way; the agent speaks the
SPDY and the channels. Plain SPDY upgrades (kubectl's fallback) are refused with 400, so the
client says why instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from svclab.apimachinery import remotecommand as rc

from . import errors
from .storage import Obj, Store

__all__ = ["NodeAgents", "PORT_FORWARD_PROTOCOL", "pick_container", "serve_exec", "serve_log", "serve_port_forward"]

AGENT_URL = "http://node-agent"  # the host part is ignored on a Unix socket
_TERMINAL_PHASES = ("Succeeded", "Failed")
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"  # kubectl >= 1.31: SPDY frames inside WebSocket messages
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io")  # port-forward as plain WebSocket channels


class NodeAgents:
    """Where each node's agent listens; an empty template means nowhere (a bare API server)."""

    def __init__(self, socket_template: str = "") -> None:
        self._template = socket_template

    def socket(self, node: str) -> str | None:
        return self._template.replace("{node}", node) if self._template else None


def pick_container(pod: Mapping[str, Any], requested: str) -> str:
    """The container a log/exec/attach request means, with kube-apiserver's 400s (pure)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [str(c["name"]) for c in spec.get("containers") or []]
    init = [str(c["name"]) for c in spec.get("initContainers") or []]
    if not requested:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise errors.bad_request(message)
    if requested not in containers + init:
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def _target(store: Store, agents: NodeAgents, namespace: str, name: str, container: str) -> tuple[str, str, Obj]:
    """(agent socket, container, pod) for a request, or the ApiError kube-apiserver gives."""
    pod = store.get("Pod", namespace, name)
    if pod is None:
        raise errors.not_found("", "pods", name)
    chosen = pick_container(pod, container)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    socket = agents.socket(node)
    if socket is None:
        raise errors.ApiError(503, "ServiceUnavailable", f"no node agent is known for node {node}")
    return socket, chosen, pod


def _agent_error(exc: Exception, node_hint: str) -> errors.ApiError:
    return errors.ApiError(500, "InternalError", f"error dialing backend: {node_hint}: {exc}")


async def serve_log(
    request: web.Request, store: Store, agents: NodeAgents, namespace: str, name: str
) -> web.StreamResponse:
    """``GET .../pods/NAME/log``: the agent's answer, streamed through as it comes."""
    socket, container, _pod = _target(store, agents, namespace, name, request.query.get("container", ""))
    query = [(k, v) for k, v in request.query.items() if k != "container"]
    path = f"{AGENT_URL}/containerLogs/{namespace}/{name}/{container}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=socket), timeout=timeout) as session,
            session.get(path, params=query) as answer,
        ):
            if answer.status != 200:
                body = await answer.read()
                return web.Response(body=body, status=answer.status, content_type="application/json")
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise _agent_error(exc, socket) from exc


def _exec_query(request: web.Request, container: str, subresource: str) -> list[tuple[str, str]]:
    q = request.query
    if subresource == "exec" and not q.getall("command", []):
        raise errors.bad_request("you must specify at least 1 command")
    if not any(q.get(s) in ("true", "1") for s in ("stdin", "stdout", "stderr")):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return [(k, v) for k, v in q.items() if k != "container"]


async def serve_exec(
    request: web.Request, store: Store, agents: NodeAgents, namespace: str, name: str, subresource: str
) -> web.StreamResponse:
    """``pods/exec`` or ``pods/attach`` over WebSocket, relayed to the agent."""
    socket, container, pod = _target(store, agents, namespace, name, request.query.get("container", ""))
    phase = (pod.get("status") or {}).get("phase")
    if phase in _TERMINAL_PHASES:
        raise errors.bad_request(f"cannot {subresource} into a container in a completed pod; current phase is {phase}")
    protocol = rc.negotiate(request.headers.get("Sec-WebSocket-Protocol", ""))
    if request.headers.get("Upgrade", "").lower() != "websocket" or protocol is None:
        raise errors.bad_request(
            f"{subresource} needs a WebSocket upgrade with subprotocol {' or '.join(rc.PROTOCOLS)}; "
            "this server does not speak SPDY"
        )
    query = _exec_query(request, container, subresource)
    url = f"{AGENT_URL}/{subresource}/{namespace}/{name}/{container}"
    return await _relay_to(request, socket, url, query, protocol)


async def serve_port_forward(
    request: web.Request, store: Store, agents: NodeAgents, namespace: str, name: str
) -> web.StreamResponse:
    """``pods/portforward``: kubectl's SPDY-in-WebSocket tunnel, relayed to the agent as it is."""
    pod = store.get("Pod", namespace, name)
    if pod is None:
        raise errors.not_found("", "pods", name)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    socket = agents.socket(node)
    if socket is None:
        raise errors.ApiError(503, "ServiceUnavailable", f"no node agent is known for node {node}")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.bad_request(
            f"portforward needs a WebSocket upgrade (subprotocol {PORT_FORWARD_PROTOCOL}, "
            f"{' or '.join(CHANNEL_PROTOCOLS)}, or none); this server does not speak plain SPDY"
        )
    url = f"{AGENT_URL}/portForward/{namespace}/{name}"
    if PORT_FORWARD_PROTOCOL in offered:
        return await _relay_to(request, socket, url, [], PORT_FORWARD_PROTOCOL)
    # WebSocket channels (kubelet's websocket.go): the ports ride in the query; no subprotocol is kubelet's default
    protocol = next((p for p in offered if p in CHANNEL_PROTOCOLS), "")
    query = [("ports", value) for value in request.query.getall("ports", [])]
    return await _relay_to(request, socket, url, query, protocol)


async def _relay_to(
    request: web.Request, socket: str, url: str, query: list[tuple[str, str]], protocol: str
) -> web.StreamResponse:
    """Open a WebSocket to the agent, then accept the client's and relay until one side closes."""
    session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=socket))
    try:
        try:
            protocols = (protocol,) if protocol else ()
            agent = await session.ws_connect(url, params=query, protocols=protocols, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            raise errors.ApiError(exc.status, "BadRequest" if exc.status == 400 else "InternalError", str(exc)) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise _agent_error(exc, socket) from exc
        client = web.WebSocketResponse(protocols=protocols, autoping=True)
        await client.prepare(request)
        await _relay(client, agent)
        return client
    finally:
        await session.close()


async def _pipe(source: Any, sink: Any) -> None:
    async for msg in source:
        if msg.type is WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type is WSMsgType.TEXT:
            await sink.send_str(msg.data)


async def _relay(client: web.WebSocketResponse, agent: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways; the agent closing ends the exec, the client closing abandons it."""
    upstream = asyncio.ensure_future(_pipe(client, agent))
    downstream = asyncio.ensure_future(_pipe(agent, client))
    try:
        await asyncio.wait([upstream, downstream], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (upstream, downstream):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await agent.close()
        await client.close(code=agent.close_code or 1000)
