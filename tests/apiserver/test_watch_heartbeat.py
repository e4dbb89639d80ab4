"""Watch bookmarks as a heartbeat: a quiet watch hears from the server every interval.

Clients take a silent watch for a dead connection (svclab.kube.reflector,
issue 15), so bookmarks must keep coming while other objects change and the
watch filters them all out (a proxy's Node watch, by name, sees every other
node's heartbeats go by). The test server's interval is 0.5 s. ConfigMaps in
default: ``busy`` changes all the time, the watch selects ``quiet`` only.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.integration

CMS = "/api/v1/namespaces/default/configmaps"


def test_filtered_watch_gets_bookmarks_while_other_objects_change(api: Any) -> None:
    api.post(CMS, {"metadata": {"name": "busy"}, "data": {"n": "0"}})
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            api.patch(f"{CMS}/busy", {"data": {"n": str(n)}}, "application/merge-patch+json")
            stop.wait(0.05)

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        params = {"watch": "true", "fieldSelector": "metadata.name=quiet", "allowWatchBookmarks": "true"}
        with api.session.get(api.base + CMS, params={**params, "timeoutSeconds": "3"}, stream=True, timeout=10) as s:
            events = [orjson.loads(line) for line in s.iter_lines() if line]
    finally:
        stop.set()
        writer.join()
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert len(events) >= 2  # about one per 0.5 s over 3 s; without the heartbeat, none
