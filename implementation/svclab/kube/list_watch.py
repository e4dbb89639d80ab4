"""ClientListerWatcher: the reflector's list and watch calls on a client.

For a real ``lightkube.AsyncClient`` it builds the requests itself, because
lightkube's public ``watch`` neither passes ``allowWatchBookmarks`` nor lets
the caller see a stream end (it reconnects internally), and its ``list`` only
takes selector mappings.  That uses lightkube 1.0's request helpers
(``GenericAsyncClient.prepare_request``/``send`` and ``core.decoders``); the
pin in pyproject keeps them stable.  Any other client (``FakeClient``) is called
through the public ``list``/``watch`` signatures with selector strings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from lightkube import ALL_NS, ApiError, AsyncClient
from lightkube.core import decoders
from lightkube.core.exceptions import NotReadyError
from lightkube.core.resource import NamespacedResource
from lightkube.core.selector import build_selector

from .reflector import ReflectorOptions

__all__ = ["ClientListerWatcher", "selector_text"]

T = TypeVar("T")


def selector_text(selector: str | Mapping[str, Any] | None, *, for_fields: bool) -> str | None:
    """A selector as query text: strings pass, lightkube selector mappings are built; "" = None."""
    if selector is None or isinstance(selector, str):
        return selector or None
    return build_selector(dict(selector), for_fields=for_fields)


class ClientListerWatcher(Generic[T]):
    """Lists and watches ``resource`` as ``options`` say, through ``client``."""

    def __init__(self, client: Any, resource: type[T], options: ReflectorOptions) -> None:
        self._client = client
        self._resource = resource
        # The same class, typed as lightkube's request helpers expect.
        self._lightkube_resource: Any = resource
        namespaced = issubclass(resource, NamespacedResource)
        self._namespace: str | None = (options.namespace or ALL_NS) if namespaced else None
        self._labels = selector_text(options.label_selector, for_fields=False)
        self._fields = selector_text(options.field_selector, for_fields=True)

    async def list(self) -> tuple[list[T], str]:
        if isinstance(self._client, AsyncClient):
            generic = self._client._client  # lightkube 1.0 internals, see module docstring
            request = generic.prepare_request(
                "list", res=self._lightkube_resource, namespace=self._namespace, params=self._selector_params()
            )
            iterable = generic.list(request)
        else:
            iterable = self._client.list(
                self._resource, namespace=self._namespace, labels=self._labels, fields=self._fields
            )
        items = [item async for item in iterable]
        try:
            resource_version = iterable.resourceVersion
        except NotReadyError:
            resource_version = ""
        return items, resource_version

    def watch(self, resource_version: str, timeout_seconds: int) -> AsyncIterator[tuple[str, T]]:
        if isinstance(self._client, AsyncClient):
            return self._lightkube_watch(resource_version, timeout_seconds)
        stream: AsyncIterator[tuple[str, T]] = self._client.watch(
            self._resource,
            namespace=self._namespace,
            labels=self._labels,
            fields=self._fields,
            server_timeout=timeout_seconds,
            resource_version=resource_version or None,
        )
        return stream

    def _selector_params(self) -> dict[str, Any]:
        return {"labelSelector": self._labels, "fieldSelector": self._fields}

    async def _lightkube_watch(self, resource_version: str, timeout_seconds: int) -> AsyncIterator[tuple[str, T]]:
        generic = self._client._client  # lightkube 1.0 internals, see module docstring
        params = {
            **self._selector_params(),
            "resourceVersion": resource_version or None,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        request = generic.prepare_request(
            "list", res=self._lightkube_resource, namespace=self._namespace, watch=True, params=params
        )
        http_request = generic._client.build_request(
            request.method, request.url, params=request.params, timeout=generic._watch_timeout
        )
        response = await generic.send(http_request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                if response.headers.get("Content-Type", "").startswith("application/json"):
                    raise ApiError(request=http_request, response=response)
                response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = decoders.decode_watch_event(line.encode() if isinstance(line, str) else line)
                if event.type == "ERROR":
                    raise ApiError(status=decoders.decode_status(event.object))
                if event.type == "BOOKMARK":
                    # A bookmark carries only metadata: decoding it into the model
                    # fails for kinds with required fields (EndpointSlice.addressType).
                    # The reflector needs just its resourceVersion.
                    yield event.type, json.loads(bytes(event.object))
                    continue
                yield event.type, decoders.decode_object(event.object, self._resource)
        finally:
            await response.aclose()
