"""A Kubernetes-compatible API server (`svclab apiserver`), its own component.

The local provider runs it as one process of each cluster; it imports nothing
from the testbed, the controllers or the proxy (the layer contract in
pyproject.toml holds it to that), and shares label/field selectors, name
formats and merge patch with the clients through ``svclab.apimachinery``.

Objects are plain JSON-compatible dicts throughout. The modules:

* ``resources``  - the served resource types (group, version, kind, plural, scope).
* ``selectable`` - which objects a list or watch selects: each kind's selectable fields.
* ``patch/``     - JSON patch, merge patch, strategic merge patch, apply (pure).
* ``validation/``- per-kind validation as upstream does it (pure).
* ``defaults``   - defaulting of every kind but Service.
* ``services/``  - Service defaulting and ClusterIP / NodePort allocation.
* ``registry``   - the write path: create, update, patch, status, binding.
* ``deletion``   - graceful deletion, finalizers, propagation, the garbage collector.
* ``bootstrap``  - the system namespaces and the ``default/kubernetes`` Service.
* ``printing/``  - server-side printing: meta.k8s.io/v1 Tables like a real cluster.
* ``discovery``  - /api, /apis, APIResourceLists, aggregated discovery, OpenAPI.
* ``protobuf``   - decoding the protobuf bodies kubectl sends for some creates.
* ``certs``      - CA and serving certificate made at first start.
* ``storage``    - SQLite (WAL) store with resourceVersions and a watch cache.
* ``watch``      - the watch verb's event stream.
* ``errors``     - API errors as metav1.Status.
* ``server``     - the aiohttp application: authentication, routing, verbs.
* ``command``    - ``svclab apiserver``.
"""
