"""lightkube's own end-to-end workflows that need only the API server (read in
gtsystem/lightkube ``e2e-tests/test_client.py``), in our words: ConfigMap create,
replace, strategic patch, get and list; dry runs of every write; deletecollection
in a namespace. Workflows needing running pods, logs or CRDs are not here.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def client(apiserver):  # type: ignore[no-untyped-def]
    from lightkube import Client, KubeConfig

    return Client(KubeConfig.from_file(str(apiserver.kubeconfig)))


def _config_map(name: str, namespace: str = "default"):  # type: ignore[no-untyped-def]
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace), data={"key1": "value1", "key2": "value2"})


def test_config_map_methods(client) -> None:
    from lightkube.resources.core_v1 import ConfigMap

    created = client.create(_config_map("cfg"))
    assert created.data == {"key1": "value1", "key2": "value2"}
    created.data["key1"] = "new value"
    assert client.replace(created).data["key1"] == "new value"
    patched = client.patch(ConfigMap, "cfg", {"metadata": {"labels": {"app": "xyz"}}})
    assert patched.metadata.labels == {"app": "xyz"}
    assert client.get(ConfigMap, "cfg").metadata.creationTimestamp == created.metadata.creationTimestamp
    assert "cfg" in [c.metadata.name for c in client.list(ConfigMap)]


def test_dry_run_of_every_write(client) -> None:
    from lightkube import ApiError
    from lightkube.resources.core_v1 import ConfigMap

    client.create(_config_map("dry"), dry_run=True)
    with pytest.raises(ApiError):
        client.get(ConfigMap, "dry")
    client.create(_config_map("dry"))
    client.patch(ConfigMap, "dry", {"metadata": {"labels": {"app": "xyz"}}}, dry_run=True)
    current = client.get(ConfigMap, "dry")
    assert current.metadata.labels is None
    current.data["key1"] = "new value"
    client.replace(current, dry_run=True)
    assert client.get(ConfigMap, "dry").data["key1"] == "value1"
    client.deletecollection(ConfigMap, dry_run=True)
    client.delete(ConfigMap, "dry", dry_run=True)
    assert client.get(ConfigMap, "dry").data["key1"] == "value1"


def test_deletecollection_in_a_namespace(client) -> None:
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap, Namespace

    client.create(Namespace(metadata=ObjectMeta(name="coll")))
    client.create(_config_map("one", "coll"))
    client.create(_config_map("two", "coll"))
    assert {"one", "two"} <= {c.metadata.name for c in client.list(ConfigMap, namespace="coll")}
    client.deletecollection(ConfigMap, namespace="coll")
    assert not {"one", "two"} & {c.metadata.name for c in client.list(ConfigMap, namespace="coll")}
