"""The iptables mode's packet accounting: nfacct objects and the metrics read from them.

Upstream's iptables proxier counts NodePort connections accepted on
127.0.0.1 and packets dropped as conntrack INVALID with two nfacct objects
(``-m nfacct`` in the rules) and exports them as counters. ``prepare`` creates
the objects and says whether the rules may name them (they must exist, and
iptables must know the ``nfacct`` match); ``NfacctCollector`` reads them at
each scrape of ``/metrics``, so the metric is the kernel's own count.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from svclab.proxy.adapters.nfacct import Nfacct, NfacctError
from svclab.proxy.iptables.plan import NFACCT_INVALID, NFACCT_LOCALHOST_NODEPORTS

__all__ = ["METRICS", "NfacctCollector", "iptables_knows_nfacct", "prepare"]

log = logging.getLogger(__name__)
#: nfacct object -> (metric name without ``_total``, help), upstream's names
METRICS = {
    NFACCT_LOCALHOST_NODEPORTS: (
        "kubeproxy_iptables_localhost_nodeports_accepted_packets",
        "Number of packets accepted on nodeports of loopback interface",
    ),
    NFACCT_INVALID: (
        "kubeproxy_iptables_ct_state_invalid_dropped_packets",
        "packets dropped by iptables to work around conntrack problems",
    ),
}


def iptables_knows_nfacct() -> bool:
    """Whether iptables can load the ``nfacct`` match: ``-C`` of a rule that does not
    exist exits 1 when the match loads, 2 when it does not."""
    argv = ["iptables", "-w", "-t", "filter", "-C", "INPUT", "-m", "nfacct", "--nfacct-name", NFACCT_INVALID]
    try:
        return subprocess.run([*argv, "-j", "RETURN"], capture_output=True).returncode == 1
    except OSError:
        return False


def prepare(nfacct: Nfacct, match_available: Callable[[], bool] = iptables_knows_nfacct) -> bool:
    """Create the objects; True when the rules may use ``-m nfacct``."""
    try:
        for name in METRICS:
            nfacct.ensure(name)
    except NfacctError as exc:
        log.info("event=nfacct_unavailable error=%s", exc)
        return False
    return match_available()


class NfacctCollector(Collector):
    """The nfacct counters as Prometheus counters, read at each scrape (a counter that
    cannot be read is left out of that scrape)."""

    def __init__(self, nfacct: Nfacct) -> None:
        self._nfacct = nfacct

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, (metric, text) in METRICS.items():
            try:
                value = self._nfacct.packets(name)
            except NfacctError:
                continue
            yield CounterMetricFamily(metric, text, value=value)
