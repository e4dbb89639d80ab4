"""Smoke test of the benchmark on loopback with tiny sizes (spawns a few processes; no root)."""

from __future__ import annotations

import pytest

from svclab.bench.proxy_userspace import bench_userspace
from svclab.proxy.userspace.relay import CopyMode


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_bench_reports_positive_figures_for_every_path() -> None:
    figures = bench_userspace(
        topology="loopback",
        bulk_bytes=4 << 20,
        requests=200,
        new_conn_requests=50,
        concurrency=2,
        rounds=1,
        modes=(CopyMode.SPLICE,),
    )
    assert figures.direct.bulk_mb_s > 0 and figures.direct.cpu_s_per_10k_keepalive == 0
    splice = figures.proxied[CopyMode.SPLICE]
    assert splice.bulk_mb_s > 0 and splice.keepalive_rps > 0 and splice.new_connection_rps > 0
    assert splice.cpu_s_per_10k_new_connection >= 0
    assert "userspace/splice" in figures.render()
