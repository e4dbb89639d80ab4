"""svclab.kube: the client-go-like layer controllers and proxies are built on.

One concept per module: ``names`` (NamespacedName), ``client`` (make_client),
``store`` (keyed cache with indexes), ``reflector`` (list+watch into a sink),
``informer`` (reflector + store + handlers), ``rate_limiter``, ``workqueue``
(dedup, one worker per key, delays, the worker loop), ``events`` (Event
recorder), ``leaderelection`` (Lease-based), ``clock`` (injected time), ``models`` (typed
access to lightkube models) and ``testing`` (fakes: FakeClock, FakeClient,
FakeRecorder).  Everything is asyncio-only.  Selectors and merge patches are
pure API-object code in ``svclab.apimachinery``, below this layer.
"""

from .client import make_client
from .clock import Clock, LoopClock
from .events import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, EventRecorder
from .informer import EventHandler, FuncHandler, Informer, wait_for_sync
from .leaderelection import LeaderElectionConfig, LeaderElector
from .names import NamespacedName
from .rate_limiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from .reflector import RECONNECT_BACKOFF, Backoff, Reflector, ReflectorOptions
from .store import NAMESPACE_INDEX, Store
from .workqueue import DEFAULT_MAX_RETRIES, ShutDown, WorkQueue, run_workers

__all__ = [
    "Backoff",
    "BucketRateLimiter",
    "Clock",
    "DEFAULT_MAX_RETRIES",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "EventHandler",
    "EventRecorder",
    "FuncHandler",
    "Informer",
    "ItemExponentialFailureRateLimiter",
    "LeaderElectionConfig",
    "LeaderElector",
    "LoopClock",
    "MaxOfRateLimiter",
    "NAMESPACE_INDEX",
    "NamespacedName",
    "RECONNECT_BACKOFF",
    "RateLimiter",
    "Reflector",
    "ReflectorOptions",
    "ShutDown",
    "Store",
    "WorkQueue",
    "default_controller_rate_limiter",
    "make_client",
    "run_workers",
    "wait_for_sync",
]
