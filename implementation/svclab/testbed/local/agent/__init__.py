"""The local node agent: kubelet's role for the local provider.

One agent runs per node, inside the node's network namespace. It registers the
Node and keeps its Lease and Ready condition fresh (:mod:`.node`), watches the
pods bound to its node, builds a sandbox per pod (:mod:`.sandbox`: network
namespace, veth on ``cni0``, IP from :mod:`.ipam`, a holder process for the
UTS namespace), runs containers as processes (:mod:`.containers`), probes them
(:mod:`.probes`) and writes pod status as kubelet does (:mod:`.status`).
Graceful deletion and restart adoption live in :mod:`.agent`.
"""
