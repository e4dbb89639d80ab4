"""Unit tests of the parts a Service's slices are built from (upstream staging endpointslice utils_test).

Address plan: see ``..builders`` (pod n = ``1.2.3.<4+n>`` on ``node-1``,
Service ``foo``).  ``NODES`` holds ``node-1`` in zone ``us-central1-a``.
"""

from __future__ import annotations

import pytest
from lightkube.resources.core_v1 import Pod

from svclab.controllers.slices.service_slices import pod_to_endpoint
from svclab.controllers.well_known import AddressType

from ..builders import conditions_of, node, pod, service
from .builders import NODES

pytestmark = pytest.mark.timeout(2)


# upstream utils_test TestPodToEndpoint: (pod, publishNotReady) -> (ready, serving, terminating)
@pytest.mark.parametrize(
    ("the_pod", "publish", "conditions"),
    [
        (pod(1), False, (True, True, False)),
        (pod(1, ready=False), False, (False, False, False)),
        (pod(1, ready=False), True, (True, False, False)),
        (pod(1, terminating=True), False, (False, True, True)),
        (pod(1, ready=False, terminating=True), False, (False, False, True)),
        (pod(1, terminating=True), True, (True, True, True)),
    ],
    ids=[
        "ready",
        "not-ready",
        "not-ready-published",
        "terminating-serving",
        "terminating-not-serving",
        "terminating-published",
    ],
)
def test_endpoint_conditions(the_pod: Pod, publish: bool, conditions: tuple[bool, bool, bool]) -> None:
    got = pod_to_endpoint(the_pod, NODES["node-1"], service(publish_not_ready=publish), AddressType.IPV4)
    assert conditions_of(got) == conditions


def test_hostname_and_missing_zone() -> None:
    svc = service()
    got = pod_to_endpoint(pod(1, hostname="h", subdomain="foo"), node("node-1"), svc, AddressType.IPV4)
    assert (got.hostname, got.zone) == ("h", None)
