"""``conformance/UPSTREAM.md`` stays honest: the tests it names exist, the summary
line's counts are the counts of its rows, every row is well formed.

A row's last column starts with the pytest node ids of the svclab tests that
cover it (covered), or with ``not yet``, ``not applicable`` or ``dual-stack
issue``. Node ids anywhere in a row must name a module-level test function of
the named file (found with ``ast``, so nothing is imported or collected).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "conformance" / "UPSTREAM.md"
UPSTREAM_FILES = {
    "service.go",
    "networking.go",
    "endpointslice.go",
    "endpointslicemirroring.go",
    "conntrack.go",
    "kube_proxy.go",
    "service_latency.go",
    "dual_stack.go",
    "topology_hints.go",
    "traffic_distribution.go",
}
STATUSES = ("not yet", "not applicable", "dual-stack issue")
NODE_ID = re.compile(r"`(conformance/[\w/]+\.py)::(\w+)`")
SUMMARY = re.compile(
    r"\*\*Summary:\*\* (?P<total>\d+) upstream tests, (?P<conformance>\d+) of them official conformance; "
    r"covered (?P<covered>\d+) \(conformance (?P<covered_conformance>\d+) of (?P<conformance_again>\d+)\); "
    r"not yet (?P<not_yet>\d+); not applicable (?P<not_applicable>\d+); dual-stack issue (?P<dual_stack>\d+)\."
)


@dataclass(frozen=True, slots=True)
class Row:
    upstream_file: str
    title: str
    conformance: bool
    svclab: str

    @property
    def category(self) -> str:
        if self.svclab.startswith("`"):
            return "covered"
        return next((status for status in STATUSES if self.svclab.startswith(status)), "malformed")


def rows_of(text: str) -> list[Row]:
    """The table rows (after the header and its separator line)."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) != 4 or cells[0] in ("upstream file", "---"):
            continue
        upstream_file, title, conformance, svclab = cells
        rows.append(Row(upstream_file, title, conformance == "yes", svclab))
        assert conformance in ("yes", "no"), line
    return rows


def computed_summary(rows: list[Row]) -> dict[str, int]:
    categories = Counter(row.category for row in rows)
    conformance = sum(row.conformance for row in rows)
    return {
        "total": len(rows),
        "conformance": conformance,
        "covered": categories["covered"],
        "covered_conformance": sum(row.conformance and row.category == "covered" for row in rows),
        "conformance_again": conformance,
        "not_yet": categories["not yet"],
        "not_applicable": categories["not applicable"],
        "dual_stack": categories["dual-stack issue"],
    }


def summary_problems(text: str) -> list[str]:
    """Where the summary line disagrees with the rows (or is missing)."""
    found = SUMMARY.search(text)
    if found is None:
        return ["no summary line"]
    typed = {key: int(value) for key, value in found.groupdict().items()}
    computed = computed_summary(rows_of(text))
    return [
        f"{key}: summary says {typed[key]}, rows give {computed[key]}" for key in typed if typed[key] != computed[key]
    ]


@cache
def functions_of(path: str) -> frozenset[str]:
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    return frozenset(
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


def missing_tests(text: str) -> list[str]:
    missing = []
    for path, name in NODE_ID.findall(text):
        if not (ROOT / path).is_file() or name not in functions_of(path):
            missing.append(f"{path}::{name}")
    return missing


def test_every_named_svclab_test_exists() -> None:
    text = MAP.read_text()
    assert NODE_ID.search(text), "the map names no svclab test"
    assert missing_tests(text) == []


def test_summary_counts_are_the_counts_of_the_rows() -> None:
    assert summary_problems(MAP.read_text()) == []


def test_rows_are_well_formed_and_unique() -> None:
    rows = rows_of(MAP.read_text())
    assert rows, "no rows found"
    assert [row for row in rows if row.category == "malformed"] == []
    assert {row.upstream_file for row in rows} == UPSTREAM_FILES
    keys = Counter((row.upstream_file, row.title) for row in rows)
    assert [key for key, count in keys.items() if count > 1] == []
    covered_without_ids = [row.title for row in rows if row.category == "covered" and not NODE_ID.match(row.svclab)]
    assert covered_without_ids == []


def test_a_wrong_count_or_a_missing_test_is_caught() -> None:
    text = MAP.read_text()
    found = SUMMARY.search(text)
    assert found is not None
    wrong = text.replace(f"not yet {found['not_yet']};", f"not yet {int(found['not_yet']) + 1};")
    assert summary_problems(wrong) == [
        f"not_yet: summary says {int(found['not_yet']) + 1}, rows give {found['not_yet']}"
    ]
    renamed = text.replace("::test_same_port_over_tcp_and_udp`", "::test_no_such_test`", 1)
    assert missing_tests(renamed) == ["conformance/test_service_types.py::test_no_such_test"]
    dropped = text.replace("| service.go | should provide secure master service | yes |", "| gone |", 1)
    assert summary_problems(dropped) != []
