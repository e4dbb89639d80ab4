"""RoundRecorder: request events per target and round, summarised with exact percentiles."""

from __future__ import annotations

from svclab.load.probe import endpoint_of
from svclab.load.rounds import RoundRecorder


def test_events_are_kept_per_target_and_round_and_only_the_counted_type_counts() -> None:
    recorder = RoundRecorder(["direct", "clusterip"], counted_type="CONNECT")
    for ms in (0.1, 0.2, 0.3):
        recorder.add("CONNECT", "direct", ms, failed=False, round_number=0)
        recorder.add("FIRST_RESPONSE", "direct", ms + 1, failed=False, round_number=0)
    recorder.add("CONNECT", "direct", 5.0, failed=True, round_number=1)
    recorder.add("CONNECT", "clusterip", 0.4, failed=False, round_number=1)
    recorder.add("CONNECT", "someone-else", 0.4, failed=False, round_number=0)  # ignored
    rounds = recorder.document("direct", {0: 1.0, 1: 1.0, 2: 0.5})
    assert [(r["round"], r["requests"], r["failures"]) for r in rounds] == [(0, 3, 0), (1, 1, 1), (2, 0, 0)]
    assert rounds[0]["latency_ms"] == {
        "CONNECT": {"samples": 3.0, "p50": 0.2, "p90": 0.3, "p99": 0.3},
        "FIRST_RESPONSE": {"samples": 3.0, "p50": 1.2, "p90": 1.3, "p99": 1.3},
    }
    assert rounds[1]["latency_ms"] == {}  # a failure is no latency sample
    assert recorder.document("clusterip", {1: 1.0})[0]["requests"] == 1


def test_probe_endpoint_of_a_url() -> None:
    endpoint = endpoint_of("http://10.96.0.10:8080/hostname")
    assert (endpoint.host, endpoint.port) == ("10.96.0.10", 8080)
    assert endpoint.request.startswith(b"GET /hostname HTTP/1.0\r\n") and endpoint.request.endswith(b"\r\n\r\n")
    assert endpoint_of("http://[fd00::1]:80/").host == "fd00::1"
