"""Readiness and liveness probes: kubelet's prober, split into a pure core and I/O.

:class:`ProbeTracker` is the state machine (no I/O, time passed in): nothing is
probed before ``initialDelaySeconds`` after the container started; then one
probe every ``periodSeconds``; the result flips to success after
``successThreshold`` consecutive successes and to failure after
``failureThreshold`` consecutive failures. A readiness result starts as
failure, a liveness result as success (kubelet's initial values).

:func:`run_probe` performs one probe (``httpGet`` on the pod IP, status
200-399 is success; ``tcpSocket`` connect; ``exec`` in the pod's namespaces,
exit 0 is success), each bounded by ``timeoutSeconds``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ProbeKind", "ProbeSettings", "ProbeTracker", "resolve_port", "run_probe"]


class ProbeKind(str, enum.Enum):
    READINESS = "readiness"
    LIVENESS = "liveness"


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_spec(cls, probe: Mapping[str, Any]) -> ProbeSettings:
        """Read a core/v1 Probe, applying the API defaults."""
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


class ProbeTracker:
    """One probe of one container run; times are seconds on the caller's clock."""

    def __init__(self, kind: ProbeKind, settings: ProbeSettings, started_at: float) -> None:
        self.kind = kind
        self.settings = settings
        self.ok = kind is ProbeKind.LIVENESS
        self._next_due = started_at + settings.initial_delay
        self._successes = 0
        self._failures = 0

    def next_due(self) -> float:
        return self._next_due

    def due(self, now: float) -> bool:
        return now >= self._next_due

    def record(self, success: bool, now: float) -> bool:
        """Count one probe result taken at ``now``; return True when ``ok`` flipped."""
        self._next_due = now + self.settings.period
        if success:
            self._successes, self._failures = self._successes + 1, 0
            flip = not self.ok and self._successes >= self.settings.success_threshold
        else:
            self._failures, self._successes = self._failures + 1, 0
            flip = self.ok and self._failures >= self.settings.failure_threshold
        if flip:
            self.ok = not self.ok
        return flip


def resolve_port(port: int | str, container: Mapping[str, Any]) -> int:
    """A probe port is a number or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"port {port!r} is not a named port of container {container.get('name')!r}")


ExecInPod = Callable[[Sequence[str], float], Awaitable[int]]


async def run_probe(
    probe: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, exec_in_pod: ExecInPod
) -> bool:
    """Perform one probe; any error or timeout counts as failure."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "exec" in probe:
            command = list(probe["exec"].get("command") or [])
            return await exec_in_pod(command, timeout) == 0
        if "httpGet" in probe:
            return await asyncio.wait_for(_http_get(probe["httpGet"], container, pod_ip), timeout)
        if "tcpSocket" in probe:
            action = probe["tcpSocket"]
            host = action.get("host") or pod_ip
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, resolve_port(action["port"], container)), timeout
            )
            writer.close()
            return True
        if "grpc" in probe:
            return False  # TODO(issue 3): grpc probes are not supported by the local agent
    except (TimeoutError, OSError, ValueError, KeyError):
        return False
    return False


async def _http_get(action: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str) -> bool:
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port", 80), container)
    path = action.get("path") or "/"
    ssl = (action.get("scheme") or "HTTP").upper() == "HTTPS"
    headers = "".join(f"{h['name']}: {h['value']}\r\n" for h in action.get("httpHeaders") or [])
    reader, writer = await asyncio.open_connection(host, port, ssl=_insecure_tls() if ssl else None)
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"User-Agent: kube-probe/1.33\r\nAccept: */*\r\n{headers}"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    parts = status_line.split()
    return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400


def _insecure_tls() -> Any:
    import ssl  # kubelet skips certificate verification for HTTPS probes

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
