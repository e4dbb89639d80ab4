"""The report's packet paths: each testbed's ``explain-<testbed>.json`` side by side in ``explain.html``.

``svclab run``'s explain phase leaves one explanation per testbed (the same
example Service on every mode, see ``svclab.run.explain_phase``).
``read_explanations`` loads them; ``explain_rows`` gives the index page its
summary (outcome, endpoints with their shares, a link per testbed);
``render_explain_page`` writes ``explain.html``: one column per testbed,
each hop indented by its depth with its table and chain, the rule and the
verdict, then the endpoint table. Self-contained like ``index.html``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["EXPLAIN_PAGE", "explain_rows", "read_explanations", "render_explain_page"]

EXPLAIN_PAGE = "explain.html"
_FILE = re.compile(r"^explain-(?P<testbed>[A-Za-z0-9_.-]+)\.json$")


def read_explanations(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Testbed -> its explanation (``svclab explain -o json`` shape plus ``text``); unreadable files are skipped."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("explain-*.json")):
        match = _FILE.match(path.name)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if match and isinstance(data, dict):
            found[match.group("testbed")] = data
    return found


def explain_rows(explanations: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """One summary row per testbed that has an explanation, in ``order``."""
    rows = []
    for name in (n for n in order if n in explanations):
        data = explanations[name]
        endpoints = [
            {"endpoint": e["endpoint"], "share": e.get("probability"), "masquerade": e.get("masquerade", False)}
            for e in data.get("endpoints", [])
        ]
        rows.append(
            {
                "testbed": name,
                "mode": data.get("mode", ""),
                "service": data.get("service", ""),
                "outcome": data.get("outcome", ""),
                "hops": len(data.get("hops", [])),
                "endpoints": endpoints,
                "affinity": data.get("affinity", ""),
                "link": f"{EXPLAIN_PAGE}#{name}",
            }
        )
    return rows


def render_explain_page(
    env: jinja2.Environment, explanations: Mapping[str, Mapping[str, Any]], order: Sequence[str], out_dir: Path
) -> Path | None:
    """Write ``out_dir/explain.html`` (None, and nothing written, without explanations)."""
    columns = [{"testbed": n, **explanations[n]} for n in order if n in explanations]
    if not columns:
        return None
    page = out_dir / EXPLAIN_PAGE
    page.write_text(env.get_template("explain.html.j2").render(columns=columns))
    return page
