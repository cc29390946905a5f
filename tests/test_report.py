"""The per-version HTML report.

Results beside the tutorials, presentation rules, what changed, templates and escaping, and the
rule's output end to end.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

from bayespipe.catalog import ANALYSES
from bayespipe.io import mismatched_files, sha256_file
from bayespipe.report import collect, headline, present
from bayespipe.report.html import TEMPLATES, page_files, render, write_report

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO, TEST_CONFIG, executed_jobs, run_snakemake  # noqa: E402
from fixtures.fake_version import (  # noqa: E402
    complete,
    make_version,
    run_info,
    write_json,
    write_png,
    write_text,
)
from fixtures.versions import CHANGED_KEY, run_in, versions  # noqa: E402

REFS = re.compile(r'(?:src|href)="([^"]+)"')
SECTION_IDS = re.compile(r'<section id="([^"]+)">')


def page(version: Path, **kwargs) -> str:
    return render(
        version, version / "report" / "index.html", run_info(version=version.name), **kwargs
    )


def section(html: str, ident: str) -> str:
    return html.split(f'<section id="{ident}">')[1].split("</section>")[0]


@pytest.fixture
def fake_version(tmp_path) -> Path:
    return make_version(tmp_path / "results")


# -- results first ---------------------------------------------------------------------------
def test_results_table_leads_with_the_tutorial_column(fake_version):
    html = page(fake_version)
    assert SECTION_IDS.findall(html) == [
        "results",
        "run",
        "changes",
        "analysis-zillow",
        "analysis-tadpoles",
        "provenance",
        "warnings",
    ]
    table = section(html, "results")
    assert "<th>Tutorial reported</th>" in table and "<th>Verdict</th>" in table
    row = next(r for r in table.split("<tr>") if "posterior mean of a_bar" in r)
    assert "1.35" in row and "0.90 to 1.80" in row and "reproduced" in row
    verdicts = re.findall(r'class="verdict-([a-z-]+)"', table)
    assert verdicts.index("not-run") > max(i for i, v in enumerate(verdicts) if v != "not-run")
    row = next(r for r in table.split("<tr>") if "posterior mean of sigma" in r)
    assert "2.5" in row and "differs" in row and "other inference method: NUTS" in row


def test_headlines_are_judged_from_the_declared_files(fake_version):
    rows = {h.id: h for h in headline.headlines(fake_version, {"run_label": ""})}
    assert rows["zillow_mae_linear"].value == pytest.approx(0.0901)
    assert rows["zillow_mae_linear"].verdict == headline.REPRODUCED
    assert rows["zillow_mae_order"].verdict == headline.REPRODUCED  # 0.08 < 0.085 < 0.0901
    assert rows["zillow_mae_order"].text == "0.0800 < 0.0850 < 0.0901"
    assert "synthetic data" in " ".join(rows["zillow_mae_linear"].notes)
    assert rows["moons_accuracy"].verdict == headline.NOT_RUN
    assert rows["moons_accuracy"].value is None
    assert rows["tadpoles_sigma"].verdict == headline.DIFFERS  # 1.62 outside [2.2, 2.8]
    swapped = make_version(fake_version.parent, "v2", mae_linear=0.08)  # linear now beats random
    order = {h.id: h for h in headline.headlines(swapped, {})}["zillow_mae_order"]
    assert order.verdict == headline.DIFFERS


def test_every_reference_names_a_known_analysis_and_a_file_a_rule_writes():
    refs = headline.load_references()
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    assert refs["references"]
    for entry in refs["references"]:
        assert entry["analysis"] in ANALYSES, entry["id"]
        assert "docs/analyses.md" in entry["source"], entry["id"]
        ours = entry.get("ours")
        if ours:
            name = Path(ours["file"]).name
            assert name in rules or Path(ours["file"]).parent.name in rules, (entry["id"], name)


def test_results_table_shows_counts_as_integers_and_values_as_the_tutorial_does(fake_version):
    card = fake_version / "zillow" / "data" / "data_card.json"
    write_json(card, {**json.loads(card.read_text()), "split": {"train": 43700.0}})
    table = section(page(fake_version), "results")

    def cells(result: str) -> list[str]:
        row = next(r for r in table.split("<tr>") if result in r)
        return [re.sub(r"<[^>]+>", "", c).strip() for c in row.split("<td")[1:]]

    rows = cells("training rows")
    assert rows[2].endswith("36,986") and rows[3].endswith("43,700")  # not 4.37e+04
    mean = cells("Mean validation logerror")
    assert mean[2].endswith("0.0130")  # the tutorial's four places, trailing zero kept
    assert re.search(r">\d\.\d{4}$", mean[3]) or mean[3].endswith("none")
    mae = cells("Validation MAE, linear regression")
    assert mae[2].endswith("0.0899") and mae[3].endswith("0.0901")
    sigma = cells("posterior mean of sigma")
    assert re.fullmatch(r".*>?\d\.\d\d", sigma[3])  # two places, as the tutorial's 1.62


def test_fixed_places_and_separators():
    assert present.fixed(43700.0, 0) == "43,700"
    assert present.fixed(27.6, 0) == "28"
    assert present.fixed(0.09012, 4) == "0.0901"
    assert present.fixed(1234.5, 2) == "1,234.50"
    assert present.fixed(float("nan"), 2) == "nan"
    assert present.fixed(0.00001234, None) == present.number(0.00001234)


def test_decimals_follow_the_tutorial_value():
    def decimals(tutorial, **extra):
        return headline.tutorial_decimals({"tutorial": tutorial, **extra})

    assert decimals(36986) == 0
    assert decimals(0.942) == 3
    assert decimals("23 (per-tank ESS 23 to 335)") == 0
    assert decimals("1.13 (HMC)") == 2
    assert decimals("wider outside (> 1)") is None
    assert decimals(0.013, decimals=4) == 4


def test_a_reference_without_its_keys_is_refused(tmp_path):
    bad = tmp_path / "refs.yaml"
    bad.write_text(
        "references:\n  - {id: x, analysis: zillow, result: r, tutorial: 1, source: s,"
        " agree: {rel: 0.1}}\nnotes: {}\n"
    )
    with pytest.raises(Exception, match=r"refs.yaml.*lacks 'ours'"):
        headline.load_references(str(bad))


# -- presentation rules ----------------------------------------------------------------------
def test_only_gates_are_styled_pass_or_fail(fake_version):
    html = page(fake_version)
    styled = re.findall(r'class="[^"]*gate-fail[^"]*">([^<]*)<', html)
    assert styled and all(text == "FAIL" or "failed" in text for text in styled), styled
    zillow = section(html, "analysis-zillow")
    assert "<th>bayesian_layers</th><td>no</td>" in zillow  # a setting, not a verdict
    tadpoles = section(html, "analysis-tadpoles")
    assert '<th>gates_passed</th><td><span class="gate-fail">FAIL</span>' in tadpoles


def test_quantiles_in_numeric_order_and_long_vectors_summarised(fake_version):
    zillow = section(page(fake_version), "analysis-zillow")
    assert re.search(r"q00.*q05.*q25.*q50.*q100", zillow, flags=re.S)
    assert present.ordered_keys(["mean", "q975", "q05", "q100", "sd", "q25"]) == [
        "mean",
        "q05",
        "q25",
        "q975",
        "sd",
        "q100",
    ]  # q975 is 97.5%; quantiles keep their slots
    assert "0.38" not in zillow  # the 40 per-zip effects are not printed one by one
    assert "n = 40, range 0 to 0.39, mean 0.195" in zillow
    assert zillow.count("<rect ") == present.HISTOGRAM_BINS


def test_approximate_fits_are_marked_not_failed(fake_version):
    write_json(
        fake_version / "zillow" / "missing_predictor" / "diagnostics.json",
        {
            "method": "pathfinder",
            "approximate": True,
            "passed": None,
            "note": "pathfinder draws are approximate",
        },
    )
    write_json(
        fake_version / "zillow" / "random_intercepts" / "diagnostics.json",
        {
            "method": "advi",
            "approximate": True,
            "passed": True,
            "checks": {"max_pareto_k": {"value": 0.4, "threshold": 0.7, "passed": True}},
        },
    )
    html = page(fake_version)
    assert "approximate fit (pathfinder): missing_predictor" in html
    assert "approximate: advi" in section(html, "run")
    zillow = collect.collect_analysis(fake_version, "zillow")
    assert [f.method for f in zillow.approximate] == ["pathfinder", "advi"]
    assert all(g.passed for g in zillow.gates)  # pathfinder's passed: null is no failed gate


def test_calibration_verdicts_and_figures_are_rendered(fake_version):
    cal = fake_version / "calibration"
    quantities = {"sigma": {"inside_band": True, "max_distance": 0.1}}
    write_json(
        cal / "calibration.json",
        {
            "tadpoles": {
                "verdict": "pass",
                "screening": "flagged",
                "confirmation": "pass",
                "reasons": [],
                "note": "flagged in screening (ECDF outside the simultaneous band: sigma); "
                "not confirmed on 12 independent replications",
                "replications": 12,
                "quantities": quantities,
                "confirmation_result": {"verdict": "pass", "quantities": quantities},
            },
            "linear_regression": {
                "verdict": "fail",
                "replications": 12,
                "quantities": quantities,
                "reasons": ["ECDF outside the simultaneous band: beta[2]"],
            },
        },
    )
    write_png(cal / "figures" / "tadpoles_ecdf.png")
    html = page(fake_version)
    calibration = section(html, "analysis-calibration")
    table = calibration.split("<table>")[1]  # the verdict table, one row per program
    assert re.search(r"<td>linear_regression</td>\s*<td>fail</td>", table)
    assert "ECDF outside the simultaneous band: beta[2]" in table
    # the evidence of both stages folded
    assert "<summary>tadpoles: quantities, confirmation_result</summary>" in calibration
    assert re.search(r"<td>tadpoles</td>\s*<td>pass</td>\s*<td>flagged</td>\s*<td>pass</td>", table)
    assert "not confirmed on 12 independent replications" in table
    assert 'src="../calibration/figures/tadpoles_ecdf.png"' in calibration
    assert "gate-fail" not in calibration  # a calibration verdict is not a convergence gate
    assert SECTION_IDS.findall(html)[-3] == "analysis-calibration"


def test_values_are_escaped_once(fake_version):
    write_json(
        fake_version / "zillow" / "data" / "data_card.json",
        {"source": "<script>alert(1)</script> & more"},
    )
    html = page(fake_version)
    assert "<script>alert" not in html and html.count("<script") == 1  # the page's own only
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&amp;lt;" not in html  # not escaped twice
    assert all(p.suffix == ".j2" or p.name == "style.css" for p in TEMPLATES.iterdir())


def test_every_page_file_is_a_rule_input():
    names = {p.name for p in page_files()}
    assert {"references.yaml", "layout.yaml", "style.css"} <= names
    used = set()
    for template in TEMPLATES.glob("*.j2"):
        used |= set(re.findall(r'(?:include|import) "([^"]+)"', template.read_text()))
    assert used and used <= names, used - names
    assert "report_page_files()" in (REPO / "workflow" / "rules" / "report.smk").read_text()


def test_page_is_valid_html5_and_self_contained(fake_version):
    html5lib = pytest.importorskip("html5lib", reason="html5lib is in requirements-dev.txt")
    target = fake_version / "report" / "index.html"
    for rel in ("manifest.json", "ro-crate-metadata.json", "report/code-snapshot/Snakefile"):
        write_text(fake_version / rel, "{}")
    write_report(fake_version, target, run_info())
    html = target.read_text()
    html5lib.HTMLParser(strict=True).parse(html)  # raises on any parse error
    refs = REFS.findall(html)
    assert not [r for r in refs if re.match(r"(https?:)?//", r)], "external URL in the report"
    assert "<link" not in html and not re.search(r"<script[^>]*\bsrc=", html)
    assert html.count("<script>") == 1  # inline: opens the folded section a link points into
    assert not [r for r in refs if r.startswith("data:")], "a figure is inlined"
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) == 2 and all('loading="lazy"' in i for i in images)
    assert all(re.search(r'width="\d+" height="\d+"', i) for i in images)  # place kept
    ids = set(re.findall(r'id="([^"]+)"', html))
    for ref in refs:
        if ref.startswith("#"):
            assert ref[1:] in ids, ref
        elif not ref.startswith("data:"):
            assert (target.parent / ref).exists(), ref


def test_failed_gates_are_highlighted_and_warned(fake_version):
    html = page(fake_version)
    assert '<span class="badge gate-fail">1 of 2 failed</span>' in section(html, "run")
    assert re.search(
        r"tadpoles/fit/diagnostics.json</td><td>tadpoles</td><td>MCMC</td>"
        r'<td><span class="gate-fail">FAIL</span></td><td>checks.rhat</td>',
        html,
    )
    warnings = section(html, "warnings")
    assert "failed its convergence gates" in warnings
    assert "analysis moons is enabled but has no results folder" in warnings
    assert "3 divergent transitions" in warnings  # WARNING lines of job logs


def test_sections_lead_with_key_figures_and_fold_the_rest(fake_version):
    tadpoles = section(page(fake_version), "analysis-tadpoles")
    key, more = tadpoles.split("More figures")
    assert 'alt="tadpoles/figures/survival.png"' in key and "extra.png" in more
    raw = tadpoles.split("<h3>All results</h3>")[1]
    assert raw.index("Diagnostics: fit/diagnostics.json") < raw.index("Metrics: fit/metrics.json")
    assert raw.count("<details><summary>") >= 3  # every raw result folded


def test_gates_are_found_in_any_shape():
    data = {
        "fits": [
            {"name": "linear", "passed": True},
            {"name": "random", "passed": False, "rhat_ok": False, "approximate": False},
        ]
    }
    gates = collect.find_gates(data, "x.json")
    assert [(g.name, g.passed, g.failed_checks) for g in gates] == [
        ("fits[linear]", True, []),
        ("fits[random]", False, ["rhat_ok"]),
    ]


def test_job_records_name_devices():
    cpu = {"device_name": "/CPU:0", "gpus": []}
    gpu = {"device_name": "/GPU:0", "gpus": ["H100"]}
    records = [
        {"rule": "mnist_train", "extra": {"device": gpu}},
        {"rule": "moons_fit", "extra": {"device": cpu}},
        {"rule": "x", "extra": {}},
        {"rule": "sinusoid_fit", "extra": {"device": cpu}},
        {"rule": "sinusoid_fit", "extra": {"device": cpu}},
    ]  # two variants, one rule
    assert collect.devices(records) == [
        "/GPU:0 (H100) [mnist_train]",
        "/CPU:0 [moons_fit, sinusoid_fit]",
    ]


# -- what changed --------------------------------------------------------------------------
def test_what_changed_diffs_against_the_previous_complete_version(tmp_path):
    results = tmp_path / "results"
    older = make_version(results, "v0", a_bar=3.0)
    write_text(older / "report" / "index.html", "<!DOCTYPE html>")
    complete(older, {"tadpoles": {"seed": 1}})
    incomplete = make_version(results, "v0b", a_bar=9.0)  # no manifest: never compared with
    assert incomplete.is_dir()
    other_label = make_version(results, "test-v0c", a_bar=5.0)  # another line of runs
    complete(other_label, {"run_label": "test"}, end_time="2026-02-01T00:00:00")  # newer
    current = make_version(results, "v1", a_bar=1.35)
    info = run_info(config={"tadpoles": {"seed": 2}, "report": True}, code={"a.py": "2"})
    written = write_report(
        current, current / "report" / "index.html", info, results_dir=results, files=None
    )
    assert written.compared_with == "v0"
    changes = section(written.path.read_text(), "changes")
    assert "Compared with version <b>v0</b>" in changes
    assert re.search(r'tadpoles.seed</td>\s*<td class="num">1</td><td class="num">2</td>', changes)
    row = next(r for r in changes.split("<tr>") if "posterior mean of a_bar" in r)
    assert re.search(r'<td class="num">3</td><td class="num">1.35</td><td class="num">-1.65', row)
    assert "differs → reproduced" in row
    assert "tadpoles/fit/metrics.json" in changes  # a changed output
    assert "2 changed, 0 added, 0 removed" in changes  # the page being written is no removal


def test_first_version_says_there_is_nothing_to_compare(fake_version):
    html = page(fake_version, results_dir=fake_version.parent)
    assert "No earlier complete version" in section(html, "changes")


# -- end to end on config/test.yaml ----------------------------------------------------------
@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.mark.e2e
def test_rule_writes_a_section_per_analysis(report_versions):
    version = report_versions.a
    html = (version / "report" / "index.html").read_text()
    present_names = [p.name for p in version.iterdir() if p.is_dir() and p.name != "report"]
    assert present_names
    for name in present_names:
        assert f'id="analysis-{name}"' in html
    assert version.name in html and "<th>Tutorial reported</th>" in html
    assert "reproduced" in section(html, "results")
    assert (version / "report" / "code-snapshot" / "Snakefile").is_file()


@pytest.mark.e2e
def test_second_version_reports_what_changed(report_versions):
    html = (report_versions.b / "report" / "index.html").read_text()
    changes = section(html, "changes")
    assert f"Compared with version <b>{report_versions.a.name}</b>" in changes
    assert CHANGED_KEY in changes
    record = json.loads(
        next((report_versions.b / "report" / "logs").glob("report_html.job.json")).read_text()
    )
    assert record["extra"]["compared_with"] == report_versions.a.name


@pytest.mark.e2e
def test_failed_gates_of_a_real_fit_are_highlighted(report_versions):
    html = (report_versions.b / "report" / "index.html").read_text()
    manifest = json.loads((report_versions.b / "manifest.json").read_text())
    diagnostics = [
        f["path"]
        for f in manifest["files"]
        if "diagnostic" in Path(f["path"]).name and f["path"].endswith(".json")
    ]
    if not diagnostics:
        pytest.skip("no analysis of config/test.yaml writes a diagnostics JSON yet")
    assert 'class="badge gate-fail"' in html, f"{CHANGED_KEY} = 1.0 should fail every R-hat gate"
    assert "failed its convergence gates" in section(html, "warnings")


@pytest.mark.e2e
def test_snakemake_report_builds_and_audit_ignores_it(report_versions):
    from bayespipe.audit.check import audit

    workspace, version = report_versions.workspace, report_versions.b
    target = version / "snakemake-report.zip"
    run_in(
        workspace,
        "--configfile",
        "config/test-changed.yaml",
        "--report",
        str(target.relative_to(workspace)),
    )
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    assert any(n.endswith("report.html") for n in names), names[:20]
    assert any("index.html" in n for n in names)  # the HTML report is one of the marked results
    assert audit(version) == []


@pytest.mark.e2e
def test_report_false_skips_the_html_report(repo_copy):
    planned = executed_jobs(
        run_snakemake(
            repo_copy, "--configfile", TEST_CONFIG, "--config", "report=False", "-n"
        ).stdout
    )
    assert "report_code_snapshot" in planned  # the code snapshot is part of every version
    assert "report_html" not in planned
    planned = executed_jobs(run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "-n").stdout)
    assert planned["report_html"] == 1


def test_code_snapshot_copies_exactly_the_recorded_code(tmp_path):
    from bayespipe.report.snapshot import (
        CodeChangedError,
        code_digest,
        write_snapshot,
    )
    from bayespipe.versioning import code_files

    root = tmp_path / "repo"
    (root / "workflow" / "scripts").mkdir(parents=True)
    (root / "stan").mkdir()
    (root / "Snakefile").write_text("include: 'x'\n")
    (root / "workflow" / "scripts" / "a.py").write_text("print(1)\n")
    (root / "stan" / "m.stan").write_text("model {}\n")
    code = {f: sha256_file(root / f) for f in code_files(root)}
    target = tmp_path / "v" / "report" / "code-snapshot"
    write_snapshot(root, target, code_digest(code))
    assert mismatched_files(target, code) == []
    copied = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert copied == sorted(code)
    (root / "workflow" / "scripts" / "a.py").write_text("print(2)\n")  # edited during the run
    with pytest.raises(CodeChangedError):
        write_snapshot(root, target, code_digest(code))
    assert mismatched_files(target, code) == []  # the earlier snapshot is left whole
