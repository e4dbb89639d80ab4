"""The official `kubernetes` client and lightkube against the server: CRUD,
conflicts, watch with resume and bookmarks, 410 handling, GC of owned slices."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def core(apiserver):  # type: ignore[no-untyped-def]
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(apiserver.kubeconfig))
    yield client.CoreV1Api(api_client), client.DiscoveryV1Api(api_client)
    api_client.close()


def _svc(name: str):  # type: ignore[no-untyped-def]
    from kubernetes import client

    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=80)]),
    )


def test_official_client_crud_and_conflict(core) -> None:
    from kubernetes.client.rest import ApiException

    v1, _ = core
    created = v1.create_namespaced_service("default", _svc("k8s-client"))
    assert created.spec.cluster_ip.startswith("10.96.")
    stale = created.metadata.resource_version
    patched = v1.patch_namespaced_service("k8s-client", "default", {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.labels == {"x": "y"}
    created.metadata.resource_version = stale
    with pytest.raises(ApiException) as conflict:
        v1.replace_namespaced_service("k8s-client", "default", created)
    assert conflict.value.status == 409
    v1.delete_namespaced_service("k8s-client", "default")
    with pytest.raises(ApiException) as missing:
        v1.read_namespaced_service("k8s-client", "default")
    assert missing.value.status == 404


def test_official_client_watch_resumes_with_bookmarks(core) -> None:
    from kubernetes import watch

    v1, _ = core
    rv = v1.list_namespaced_service("default").metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        # timeoutSeconds makes the server end each stream; the client resumes from
        # the last resourceVersion it saw (a bookmark's included) and must not repeat.
        for event in w.stream(
            v1.list_namespaced_service, "default", resource_version=rv, allow_watch_bookmarks=True, _request_timeout=30
        ):
            if event["type"] != "BOOKMARK":
                seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    for name in ("r1", "r2"):
        v1.create_namespaced_service("default", _svc(name))
    v1.delete_namespaced_service("r1", "default")
    thread.join(20)
    assert seen == [("ADDED", "r1"), ("ADDED", "r2"), ("DELETED", "r1")]


def test_official_client_raises_410_for_expired_rv(apiserver, restart) -> None:
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException

    api_client = config.new_client_from_config(str(apiserver.kubeconfig))
    v1 = client.CoreV1Api(api_client)
    old = v1.list_namespaced_service("default").metadata.resource_version
    v1.create_namespaced_service("default", _svc("bump"))
    api_client.close()
    apiserver.stop()
    server, _ = restart(apiserver.state_dir)
    api_client = config.new_client_from_config(str(server.kubeconfig))
    v1 = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(v1.list_namespaced_service, "default", resource_version=old, timeout_seconds=2):
            pass
    assert gone.value.status == 410
    api_client.close()


def test_lightkube_watch_and_gc(apiserver) -> None:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.models.discovery_v1 import Endpoint, EndpointConditions
    from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
    from lightkube.resources.core_v1 import Service
    from lightkube.resources.discovery_v1 import EndpointSlice

    async def scenario() -> None:
        client = AsyncClient(KubeConfig.from_file(str(apiserver.kubeconfig)))
        svc = await client.create(
            Service.from_dict({"metadata": {"name": "lk"}, "spec": {"ports": [{"port": 80}]}}), namespace="default"
        )
        owner = OwnerReference(
            apiVersion="v1", kind="Service", name="lk", uid=svc.metadata.uid, controller=True, blockOwnerDeletion=True
        )
        await client.create(
            EndpointSlice(
                metadata=ObjectMeta(
                    name="lk-1",
                    namespace="default",
                    ownerReferences=[owner],
                    labels={"kubernetes.io/service-name": "lk"},
                ),
                addressType="IPv4",
                endpoints=[Endpoint(addresses=["10.244.1.2"], conditions=EndpointConditions(ready=True))],
            )
        )
        events = []

        async def watch() -> None:
            async for op, obj in client.watch(
                EndpointSlice, namespace="default", labels={"kubernetes.io/service-name": "lk"}
            ):
                events.append((op, obj.metadata.name))
                if op == "DELETED":
                    return

        task = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        await client.delete(Service, "lk", namespace="default")
        await asyncio.wait_for(task, 10)
        assert events == [("ADDED", "lk-1"), ("DELETED", "lk-1")]
        await client.close()

    asyncio.run(scenario())
