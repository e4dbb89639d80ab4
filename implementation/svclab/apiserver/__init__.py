"""A Kubernetes-compatible API server (`svclab apiserver`), its own component.

The local provider runs it as one process of each cluster; it imports nothing
from the testbed, the controllers or the proxy (the layer contract in
pyproject.toml holds it to that), and shares label/field selectors, name
formats and merge patch with the clients through ``svclab.apimachinery``.

Objects are plain JSON-compatible dicts throughout. The modules:

* ``resources``  - the served resource types (group, version, kind, plural, scope).
* ``negotiation``- the answer's form (object, Table, PartialObjectMetadata) and ``dryRun``.
* ``encoding``   - base64 byte fields (Secret data, ConfigMap binaryData) as upstream decodes them.
* ``workloads``  - workload kinds: generation tracking, a Job's generated selector.
* ``scale``      - the autoscaling/v1 ``scale`` subresource of workloads.
* ``serviceaccounts`` - the ``default`` ServiceAccount of every namespace.
* ``authn``      - who a token is: admin token, ServiceAccount JWTs (TokenRequest),
  TokenReview and SelfSubjectReview.
* ``protobuf_schemas`` - protobuf schemas of the kinds kubectl's create subcommands send.
* ``selectable`` - which objects a list or watch selects: each kind's selectable fields.
* ``patch/``     - JSON patch, merge patch, strategic merge patch, apply (pure).
* ``validation/``- per-kind validation as upstream does it (pure).
* ``defaults``   - defaulting of every kind but Service (pods, templates, workloads, Secrets).
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
