"""The report rendered from the recorded samples in tests/report/data/.

Plan: four testbeds (iptables, nftables, ipvs in User-Mode Linux, userspace);
userspace has one failed nodeport test and skips traffic-policy and rules;
ipvs skips one traffic-policy test.  Load figures at 0/1,000/5,000 extra
Services; iptables' ClusterIP keeps 96 % (keep-alive) / 91 % (new
connection) of direct.  The report is rendered once into a temporary folder
beside a copy of the data, so links are relative and must resolve.
"""

from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

import pytest

from svclab.report import build_view, load_inputs, render_report
from svclab.report.environment import write_environment
from svclab.report.render import describe_run_time, headline_ratios

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).parent / "data"
NOW = datetime.datetime(2026, 11, 26, 22, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("run")
    results = root / "results"
    shutil.copytree(DATA, results)
    index = render_report(results, root / "reports", now=NOW)
    return index, index.read_text()


def row_of(html: str, testbed: str) -> str:
    match = re.search(rf'<tr style="--accent: #\w+">\s*<td class="l">.*?>{testbed}</a>.*?</tr>', html, re.S)
    assert match, testbed
    return match.group(0)


def test_index_is_written_in_the_output_directory(rendered: tuple[Path, str]) -> None:
    index, html = rendered
    assert index.name == "index.html" and index.parent.name == "reports"
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_matrix_counts_per_area(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    userspace = row_of(html, "userspace")
    assert '<td class="fail" title="7 passed, 1 failed, 0 skipped">7/8<small>1 failed</small>' in userspace
    assert '<td class="skip" title="0 passed, 0 failed, 7 skipped">0/0' in userspace
    ipvs = row_of(html, "ipvs")
    assert 'title="6 passed, 0 failed, 1 skipped">6/6<small>1 skipped</small>' in ipvs
    assert '<td class="pass" title="24 passed, 0 failed, 0 skipped">24/24</td>' in row_of(html, "iptables")
    areas = re.findall(r"<th>([a-z-]+)</th>", html.split('class="matrix"')[1].split("</tr>")[0])
    assert areas == sorted(areas) and len(areas) == 10
    assert "conformance.test_nodeport::test_nodeport_01" in html


def test_summary_cards_give_status_and_headline_ratios(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert summary.count("✓ conformance passed") == 3
    assert "✗ conformance: 1 failed" in summary and "89 passed · 1 failed · 13 skipped" in summary
    iptables_card = summary.split("iptables")[1].split('class="card"')[0]
    assert "<b>96%</b>" in iptables_card and "<b>91%</b>" in iptables_card


def test_charts_are_inline_svg_with_text_and_distinct_ids(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    ids = re.findall(r'<svg [^>]*id="(chart-[a-z]+)"', html)
    assert ids == ["chart-throughput", "chart-latency", "chart-sweep", "chart-convergence"]
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    for label in (
        "keep-alive connections",
        "new connection per request",
        "extra Services",
        "direct = 100 %",
        "96%",
        "service created → rules",
    ):
        assert label in html, label  # fonttype none: chart text stays text
    svg_ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(svg_ids) == len(set(svg_ids)), "duplicate ids across inline SVGs"
    for ref in re.findall(r'(?:url\(#|href="#)([^)"]+)', html):
        assert ref in svg_ids, f"dangling reference #{ref}"


def test_self_contained_no_scripts_no_external_resources(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and not re.search(r"url\((?!#)", html)


def test_links_are_relative_and_resolve(rendered: tuple[Path, str]) -> None:
    index, html = rendered
    links = re.findall(r'href="([^"#]+)"', html)
    expected = {
        f"../results/{kind}-{tb}.{ext}"
        for tb in ("iptables", "nftables", "ipvs", "userspace")
        for kind, ext in (("conformance", "html"), ("junit", "xml"), ("load", "json"), ("load", "csv"))
    }
    assert expected <= set(links)
    assert "../results/locust-ipvs-clusterip-keepalive-0.html" in links
    for link in links:
        assert (index.parent / link).exists(), link
    # only existing locust reports are linked
    assert "locust-ipvs-direct-keepalive-0.html" not in html


def test_environment_and_run_time(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    env = html.split('id="environment"')[1]
    for text in (
        "6.1.0-40-cloud-amd64",
        "v1.37.1",
        "v1.8.9 (nf_tables)",
        "v1.0.6",
        "3.11.7",
        "6.12.38 (User-Mode Linux)",
    ):
        assert text in env, text
    assert re.search(r"<td class=\"l\">ipvs</td><td class=\"l\">ipvs</td><td class=\"l\">uml</td>", env)
    assert "ran 26 Nov 2026, 21:04 – 21:16 UTC (13 min)" in html
    assert "report made 2026-11-26 22:00 UTC" in html


def test_sweep_table_and_view_ratios() -> None:
    view = build_view(load_inputs(DATA), DATA, DATA, now=NOW)
    assert headline_ratios(view)["userspace"] == (0.38, 0.31)
    table = view["sweep_table"]
    assert table["counts"] == [0, 1000, 5000]
    iptables_new = next(r for r in table["rows"] if r["mode"] == "iptables" and r["scenario"].startswith("new"))
    assert iptables_new["cells"] == [0.91, 0.84, 0.62]


def test_skipped_testbed_is_shown_with_its_reason_but_not_in_the_matrix(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    summary = html.split('id="summary"')[1].split("</section>")[0]
    card = summary.split('class="card notrun"')[1]
    assert "kind-iptables" in card and "not run on this machine" in card
    assert "no Docker engine: kind needs one" in card
    assert "kind-iptables" not in html.split('class="matrix"')[1].split("</table>")[0]
    env = html.split('id="environment"')[1]
    assert "not run: no Docker engine: kind needs one" in env


def test_phase_timings_per_testbed(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    env = html.split('id="environment"')[1]
    assert "<th>up s</th><th>conformance s</th><th>load s</th><th>down s</th>" in env
    ipvs = env.split('<td class="l">ipvs</td>', 1)[1].split("</tr>")[0]
    assert re.findall(r'<td class="num[^"]*"[^>]*>([\d.]+)</td>', ipvs) == ["40.8", "252.0", "304.5", "16.8"]
    assert "2 lanes side by side (iptables → kind-iptables → nftables → userspace | ipvs)" in " ".join(env.split())
    userspace = env.split('<td class="l">userspace</td>', 1)[1].split("</tr>")[0]
    assert '<td class="num bad" title="89 passed, 1 failed, 13 skipped">84.0</td>' in userspace


def test_a_broken_phase_is_named_on_the_card(tmp_path: Path) -> None:
    shutil.copy(DATA / "junit-iptables.xml", tmp_path)
    write_environment(
        tmp_path / "environment.json",
        started="2026-11-26T21:04:12Z",
        finished=None,
        profile="quick",
        host={},
        testbeds={
            "iptables": {
                "mode": "iptables",
                "provider": "local",
                "skipped": "",
                "phases": [
                    {"name": "up", "ok": True, "seconds": 3.0, "detail": ""},
                    {"name": "load", "ok": False, "seconds": 9.5, "detail": "TimeoutError: backends not Ready"},
                ],
            }
        },
    )
    view = build_view(load_inputs(tmp_path), tmp_path, tmp_path, now=NOW)
    assert view["testbeds"][0]["headline"].status == "broken"
    html = render_report(tmp_path, tmp_path / "out", now=NOW).read_text()
    assert "✗ load broke" in html and "load: TimeoutError: backends not Ready" in html


def test_a_shorter_sweep_in_uml_is_explained(tmp_path: Path) -> None:
    import json

    shutil.copytree(DATA, tmp_path / "results")
    load = tmp_path / "results" / "load-ipvs.json"
    document = json.loads(load.read_text())
    document["figures"] = [f for f in document["figures"] if f["services"] <= 1000]
    load.write_text(json.dumps(document))
    html = render_report(tmp_path / "results", tmp_path / "out", now=NOW).read_text()
    sweep = " ".join(html.split('id="sweep"')[1].split("</section>")[0].split())
    assert "ipvs swept to 1,000 extra Services only: it runs in a one-CPU User-Mode Linux guest" in sweep
    assert "iptables swept" not in sweep


def test_partial_results_render_without_charts(tmp_path: Path) -> None:
    shutil.copy(DATA / "junit-iptables.xml", tmp_path)
    html = render_report(tmp_path, tmp_path / "out", now=NOW).read_text()
    assert "<svg" not in html and 'id="throughput"' not in html
    assert "✓ conformance passed" in html and "<b>–</b>" in html


@pytest.mark.parametrize(
    ("started", "finished", "text"),
    [
        ("2026-11-26T21:04:12Z", "2026-11-26T21:16:47Z", "26 Nov 2026, 21:04 – 21:16 UTC (13 min)"),
        ("2026-11-26T23:50:00+00:00", "2026-11-27T00:10:00+00:00", "26 Nov 2026, 23:50 – 27 Nov 2026, 00:10 UTC"),
        ("2026-11-26T21:04:12Z", None, "26 Nov 2026, 21:04 UTC"),
        ("not a time", None, "not a time"),
        (None, None, None),
    ],
)
def test_describe_run_time(started: str | None, finished: str | None, text: str | None) -> None:
    assert describe_run_time(started, finished) == text


def test_a_fallen_back_testbed_names_both_modes(tmp_path: Path) -> None:
    shutil.copy(DATA / "junit-iptables.xml", tmp_path / "junit-ipvs-fallback.xml")
    write_environment(
        tmp_path / "environment.json",
        started="2026-11-26T21:04:12Z",
        finished=None,
        profile="quick",
        host={},
        testbeds={
            "ipvs-fallback": {
                "mode": "ipvs -> iptables (no IPVS in this kernel)",
                "provider": "local",
                "skipped": "",
                "phases": [{"name": "up", "ok": True, "seconds": 3.0, "detail": ""}],
            }
        },
    )
    html = render_report(tmp_path, tmp_path / "out", now=NOW).read_text()
    env = html.split('id="environment"')[1]
    row = env.split('<td class="l">ipvs-fallback</td>', 1)[1].split("</tr>")[0]
    assert '<td class="l">ipvs -&gt; iptables (no IPVS in this kernel)</td>' in row


def _probe_row(target: str, services: int, p50: float, diff: float | None, verdict: str | None) -> dict[str, object]:
    return {
        "mode": "iptables", "target": target, "scenario": "connect-probe", "services": services, "users": 1,
        "requests": 3000, "failures": 0, "duration_s": 6.0, "rps": 500.0, "p50_ms": 0.0, "p95_ms": 1.0,
        "p99_ms": 1.0, "ratio_to_direct": None, "proxy_cpu_s": None, "html_report": None, "rounds": 3,
        "connect_p50_ms": p50, "connect_p50_low_ms": p50 - 0.01, "connect_p50_high_ms": p50 + 0.02,
        "connect_diff_ms": diff, "connect_diff_low_ms": diff, "connect_diff_high_ms": diff,
        "connect_noise_ms": 0.03, "verdict": verdict,
    }  # fmt: skip


def _probe_sweep() -> list[dict[str, object]]:
    """The connection probe at 0 and 5,000 extra Services, direct and through the ClusterIP."""
    return [
        _probe_row("direct", 0, 0.11, None, None),
        _probe_row("clusterip", 0, 0.19, 0.08, "slower"),
        _probe_row("direct", 5000, 0.12, None, None),
        {**_probe_row("clusterip", 5000, 0.40, 0.28, "slower"), "rule_position": 5003, "rules_in_chain": 5004},
    ]


def test_round_spreads_verdicts_and_the_connect_sweep_are_shown(tmp_path: Path) -> None:
    import json

    shutil.copytree(DATA, tmp_path / "results")
    load = tmp_path / "results" / "load-iptables.json"
    document = json.loads(load.read_text())
    for f in document["figures"]:
        if f["target"] == "clusterip" and f["scenario"] == "keepalive" and f["services"] == 0:
            # above 100 % but inside the rounds' noise: never drawn as faster than direct
            f.update(ratio_to_direct=1.2, ratio_low=0.95, ratio_high=1.4, rounds=3, rps_noise_pct=30.0)
            f["verdict"] = "no measurable difference"
    document["figures"] += _probe_sweep()
    load.write_text(json.dumps(document))
    html = render_report(tmp_path / "results", tmp_path / "out", now=NOW).read_text()
    card = " ".join(html.split('class="cards"')[1].split("</section>")[0].split())
    assert "≈ direct" in card and "120%" in card and "(95%–140%, 3 rounds)" in card and "noise floor 30.0 %" in card
    assert "+0.080" in card and "connect, ms vs direct" in card and "noise floor 0.030 ms" in card
    throughput = html.split('id="throughput"')[1].split("</section>")[0]
    assert "≈ direct" in throughput and "120%" not in throughput  # the bar's label, too
    sweep = " ".join(html.split('id="sweep"')[1].split("</section>")[0].split())
    assert 'id="chart-connect-sweep' in sweep
    assert "0.400 (0.390–0.420)" in sweep and "+0.280 vs direct: slower" in sweep
    assert "rule 5,003 of 5,004 in KUBE-SERVICES" in sweep


def test_worst_and_typical_places_are_shown_with_their_read_back_positions(tmp_path: Path) -> None:
    import json

    shutil.copytree(DATA, tmp_path / "results")
    load = tmp_path / "results" / "load-iptables.json"
    document = json.loads(load.read_text())
    document["figures"] = [f for f in document["figures"] if f["services"] == 0]
    step = {"create_s": 41.5, "program_s": 9.0, "rule_chain": "KUBE-SERVICES"}
    typical = {"rule_position": 2503, "rules_in_chain": 5004, "rule_chain": "KUBE-SERVICES"}
    document["figures"] += [
        *_probe_sweep()[:3],
        {**_probe_sweep()[3], **step},
        {**_probe_row("clusterip-typical", 5000, 0.30, 0.18, "slower"), **typical},
    ]
    load.write_text(json.dumps(document))
    nft = tmp_path / "results" / "load-nftables.json"
    document = json.loads(nft.read_text())
    note = "n/a: one lookup in the service-ips verdict map"
    document["figures"] += [
        {
            **_probe_row("clusterip", 5000, 0.2, 0.01, "no measurable difference"),
            "mode": "nftables",
            "position_note": note,
        }
    ]
    nft.write_text(json.dumps(document))
    html = render_report(tmp_path / "results", tmp_path / "out", now=NOW).read_text()
    sweep = " ".join(html.split('id="sweep"')[1].split("</section>")[0].split())
    connect = sweep.split("TCP connect, p50 ms")[1]
    assert "ClusterIP web: sorts last, the worst place where rules go by name" in connect
    assert "ClusterIP svclab-sweep-middle: sorts mid, the typical place" in connect
    assert "rule 5,003 of 5,004 in KUBE-SERVICES (100% walked)" in connect
    assert "rule 2,503 of 5,004 in KUBE-SERVICES (50% walked)" in connect
    assert note in connect
    # how far each sweep reached, with the step's seconds; nftables' figures carry none
    reach = sweep.split("How far the sweep reached")[1].split("</table>")[0]
    assert '<td class="l">iptables</td><td class="num">5,000</td><td class="num">41.5 s</td>' in reach
    assert "9.0 s" in reach and "last step of the quick profile" in reach
    assert '<td class="l">nftables</td><td class="num">5,000</td><td class="num">–</td>' in reach


def test_a_probe_only_sweep_shows_the_connect_sweep_and_says_throughput_was_not_swept(tmp_path: Path) -> None:
    """The quick profile sweeps the connection probe only: no empty throughput chart or columns."""
    import json

    shutil.copytree(DATA, tmp_path / "results")
    for load in (tmp_path / "results").glob("load-*.json"):
        document = json.loads(load.read_text())
        document["figures"] = [f for f in document["figures"] if f["services"] == 0]
        if load.name == "load-iptables.json":
            document["figures"] += _probe_sweep()
        load.write_text(json.dumps(document))
    html = render_report(tmp_path / "results", tmp_path / "out", now=NOW).read_text()
    sweep = " ".join(html.split('id="sweep"')[1].split("</section>")[0].split())
    assert 'id="chart-connect-sweep' in sweep and 'id="chart-sweep' not in sweep
    assert "swept the connection probe only" in sweep and "ClusterIP throughput, % of direct" not in sweep


def test_what_a_testbeds_selection_left_out_is_said_under_the_matrix(tmp_path: Path) -> None:
    import json

    results = tmp_path / "results"
    shutil.copytree(DATA, results)
    env = json.loads((results / "environment.json").read_text())
    left_out = (
        "70 tests left out by the quick profile (needs_proxy and not breadth; "
        "the mode-neutral ones ran on iptables; --profile full runs them)"
    )
    for phase in env["testbeds"]["nftables"]["phases"]:
        if phase["name"] == "conformance":
            phase["detail"] = f"20 passed, 0 failed, 1 skipped; {left_out}"
    (results / "environment.json").write_text(json.dumps(env))
    html = render_report(results, tmp_path / "out", now=NOW).read_text()
    matrix = " ".join(html.split('id="conformance"')[1].split("</section>")[0].split())
    assert f"<b>nftables</b>: {left_out}." in matrix
    assert "<b>iptables</b>:" not in matrix


def test_an_external_proxy_gets_its_column_beside_the_reference_modes(tmp_path: Path) -> None:
    """`svclab run --testbed my-proxy.yaml`: the user's proxy (issue 19) after the reference modes."""
    import json

    results = tmp_path / "results"
    shutil.copytree(DATA, results)
    shutil.copy(DATA / "junit-iptables.xml", results / "junit-my-proxy.xml")
    env = json.loads((results / "environment.json").read_text())
    env["testbeds"]["my-proxy"] = {
        "mode": "external: my-proxy (rules read as iptables)",
        "provider": "local",
        "skipped": "",
        "phases": [{"name": "up", "ok": True, "seconds": 3.0, "detail": ""}],
    }
    (results / "environment.json").write_text(json.dumps(env))
    view = build_view(load_inputs(results), results, tmp_path / "out", now=NOW)
    names = [t["name"] for t in view["testbeds"]]
    assert names.index("my-proxy") > max(names.index(mode) for mode in ("iptables", "nftables", "ipvs", "userspace"))
    mine = next(t for t in view["testbeds"] if t["name"] == "my-proxy")
    assert mine["mode"] == "external: my-proxy (rules read as iptables)"
    assert mine["cells"] and mine["colour"]  # its conformance cells, and a colour of its own
    html = render_report(results, tmp_path / "out", now=NOW).read_text()
    assert "external: my-proxy (rules read as iptables)" in html


# explain-<testbed>.json in data/ are `svclab explain` of Service web from the client pod over the dumps
# recorded on live nodes (tests/golden/explain/<mode>/recorded, case "web"): three endpoints, a third each.
def test_packet_paths_are_summarised_and_linked_per_testbed(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    section = html.split('<section id="explain">', 1)[1].split("</section>", 1)[0]
    for testbed in ("iptables", "nftables", "ipvs", "userspace"):
        assert f'href="explain.html#{testbed}"' in section
    assert section.count("10.244.2.3:8080 (33%") == 4
    assert section.count("10.244.2.3:8080 (33%, yes)") == 1  # userspace: the proxy dials from the node


def test_explain_page_puts_the_four_paths_side_by_side_rule_by_rule(rendered: tuple[Path, str]) -> None:
    index, _ = rendered
    page = (index.parent / "explain.html").read_text()
    assert [m for m in re.findall(r'<div class="column" id="(\w+)">', page)] == [
        "iptables",
        "nftables",
        "ipvs",
        "userspace",
    ]
    assert "-j KUBE-SVC-CDGGSHYLG3RE2FKL" in page and "numgen random mod 3" in page
    assert "-A -t 10.96.157.25:80 -s rr" in page and "socket 0.0.0.0:36501" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_no_explanations_no_section_and_no_page(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(DATA, results, ignore=shutil.ignore_patterns("explain-*"))
    html = render_report(results, tmp_path / "out", now=NOW).read_text()
    assert 'id="explain"' not in html and not (tmp_path / "out" / "explain.html").exists()
