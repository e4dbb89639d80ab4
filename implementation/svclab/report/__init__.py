"""HTML reports: one self-contained ``index.html`` from a run's results directory.

``render_report(results_dir, out_dir)`` reads what the run left behind (file
names and schemas in ``inputs`` and ``environment``) and writes
``out_dir/index.html``: a summary per testbed, the conformance matrix, charts
of throughput, latency, the Service-count sweep and convergence (inline SVG),
the load figures and the environment.  ``write_environment`` writes the
run-wide ``environment.json``.
"""

from .environment import collect_host_versions, write_environment
from .inputs import (
    AreaCounts,
    ConvergenceSample,
    ReportInputs,
    TestbedInputs,
    load_inputs,
    parse_convergence,
    parse_junit,
)
from .render import Headline, build_view, headline, render_report

__all__ = [
    "AreaCounts",
    "ConvergenceSample",
    "Headline",
    "ReportInputs",
    "TestbedInputs",
    "build_view",
    "collect_host_versions",
    "headline",
    "load_inputs",
    "parse_convergence",
    "parse_junit",
    "render_report",
    "write_environment",
]
