"""Reachability from every node: one client pod per node, and waits for a set of
targets to answer (or to fall silent) from all of them.

A Service address must behave the same whichever node a connection starts on:
each node runs its own proxy with its own rules, so a change (a type change, a
port removed) has to reach every node. Clients are agnhost pause pods pinned
to a node (``harness.traffic.client_pod``); requests go out through
``cluster.exec_in_pod`` so this works on any provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from lightkube import Client

from harness.cluster import ClusterUnderTest
from harness.traffic import client_pod, http_get_urls, udp_hostnames, wait_ready
from harness.waiting import wait_for

__all__ = [
    "SILENT_ROUNDS",
    "clients_on_every_node",
    "wait_answering",
    "wait_silent",
    "wait_udp_answering",
    "wait_udp_silent",
]

SILENT_ROUNDS = 2  # requests per client and target that must all fail once silence is seen


def clients_on_every_node(client: Client, cluster: ClusterUnderTest, namespace: str) -> dict[str, str]:
    """Create a client pod on each node; return node name -> pod name once all run."""
    pods = {node.name: f"client-{index}" for index, node in enumerate(cluster.nodes)}
    for node, pod in pods.items():
        client.create(client_pod(pod, namespace, node))
    wait_ready(client, namespace, pods.values(), timeout=60.0)
    return pods


def _answers(
    cluster: ClusterUnderTest, namespace: str, pod: str, urls: Sequence[str], count: int
) -> dict[str, list[str]]:
    """``count`` requests to each of ``urls`` from ``pod`` in one exec: url -> answers."""
    answers = http_get_urls(cluster, namespace, pod, [url for url in urls for _ in range(count)])
    return {url: answers[index * count : (index + 1) * count] for index, url in enumerate(urls)}


def _on_every_client(clients: Mapping[str, str], check: Callable[[str], None]) -> None:
    # Clients on different nodes are independent: probe them side by side (a
    # silent target costs a connect timeout per request), re-raising the first failure.
    with ThreadPoolExecutor(max_workers=len(clients) or 1) as pool:
        for done in [pool.submit(check, pod) for pod in clients.values()]:
            done.result()


def wait_answering(
    cluster: ClusterUnderTest,
    namespace: str,
    clients: Mapping[str, str],
    urls: Iterable[str],
    expected: Iterable[str],
    *,
    timeout: float = 30.0,
) -> None:
    """Wait until every client gets an answer from ``expected`` (``/hostname``) at every URL,
    then check that a further round from each answers only from ``expected``."""
    wanted, targets = set(expected), list(urls)

    def check(pod: str) -> None:
        wait_for(
            lambda: all(set(got) <= wanted for got in _answers(cluster, namespace, pod, targets, 2).values()),
            timeout=timeout,
            what=f"{targets} answer {sorted(wanted)} from pod {pod}",
        )
        for url, got in _answers(cluster, namespace, pod, targets, 3).items():
            assert set(got) <= wanted, f"{url} from {pod}: {got}"

    _on_every_client(clients, check)


def wait_silent(
    cluster: ClusterUnderTest, namespace: str, clients: Mapping[str, str], urls: Iterable[str], *, timeout: float = 30.0
) -> None:
    """Wait until no client gets any answer at any URL; then ``SILENT_ROUNDS`` more
    requests from each must fail too (silence that lasts, not one lost packet)."""
    targets = list(urls)

    def check(pod: str) -> None:
        wait_for(
            lambda: all(got == [""] for got in _answers(cluster, namespace, pod, targets, 1).values()),
            timeout=timeout,
            what=f"{targets} silent from pod {pod}",
        )
        for url, got in _answers(cluster, namespace, pod, targets, SILENT_ROUNDS).items():
            assert got == [""] * SILENT_ROUNDS, f"{url} still answers from {pod}: {got}"

    _on_every_client(clients, check)


def wait_udp_answering(
    cluster: ClusterUnderTest, namespace: str, pod: str, host: str, port: int, expected: Iterable[str]
) -> None:
    """Wait until "hostname" datagrams to host:port get answers, all from ``expected``."""
    wanted = set(expected)

    def answered() -> bool:
        answers = [a for a in udp_hostnames(cluster, namespace, pod, host, port, 3, source_port=0) if a]
        assert set(answers) <= wanted, f"UDP {host}:{port} answered by {answers}"
        return bool(answers)

    wait_for(answered, what=f"UDP answers from {host}:{port}")


def wait_udp_silent(cluster: ClusterUnderTest, namespace: str, pod: str, host: str, port: int) -> None:
    """Wait until datagrams to host:port get no answer, then check a further round too."""
    wait_for(
        lambda: udp_hostnames(cluster, namespace, pod, host, port, 1, source_port=0) == [""],
        what=f"UDP {host}:{port} silent",
    )
    later = udp_hostnames(cluster, namespace, pod, host, port, SILENT_ROUNDS, source_port=0)
    assert later == [""] * SILENT_ROUNDS, f"UDP {host}:{port} still answers: {later}"
