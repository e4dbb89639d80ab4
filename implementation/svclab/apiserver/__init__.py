"""A Kubernetes-compatible API server (`svclab apiserver`), its own component.

The local provider runs it as one process of each cluster; it imports nothing
from the testbed, the controllers or the proxy (the layer contract in
pyproject.toml holds it to that).

Objects are plain JSON-compatible dicts throughout. The modules:

* ``resources``  - the served resource types (group, version, kind, plural, scope).
* ``selectable`` - which objects a list or watch selects: each kind's selectable fields
  (the selectors themselves are ``svclab.apimachinery``).
* ``patch``      - JSON patch, merge patch, strategic merge patch (pure).
* ``validation`` - per-kind validation as upstream does it (pure).
* ``services``   - Service defaulting and ClusterIP / NodePort allocation.
* ``printing``   - server-side printing: meta.k8s.io/v1 Tables like a real cluster.
* ``discovery``  - /api, /apis, APIResourceLists, aggregated discovery, OpenAPI.
* ``protobuf``   - decoding the protobuf bodies kubectl sends for some creates.
* ``certs``      - CA and serving certificate made at first start.
* ``storage``    - SQLite (WAL) store with resourceVersions and a watch cache.
* ``server``     - the aiohttp application: authentication, routing, verbs.
"""
