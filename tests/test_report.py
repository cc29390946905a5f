"""The per-version HTML report: discovery of analysis outputs, rendering, and the rule's output."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from bayespipe.report import collect
from bayespipe.report.html import RunInfo, render, write_report

sys.path.insert(0, str(Path(__file__).parent))
from browser.versions import CHANGED_KEY, run_in, versions  # noqa: E402
from conftest import TEST_CONFIG, executed_jobs, run_snakemake  # noqa: E402

REFS = re.compile(r'(?:src|href)="([^"]+)"')


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture
def fake_version(tmp_path) -> Path:
    """A version folder shaped like the analyses' outputs, with one failed convergence gate."""
    version = tmp_path / "results" / "v1"
    tad = version / "tadpoles"
    (tad / "fit").mkdir(parents=True)
    (tad / "fit" / "diagnostics.json").write_text(json.dumps({
        "model": "tadpoles", "passed": False,
        "checks": {"rhat": {"value": 1.2, "limit": 1.01, "passed": False}, "ess_bulk": {"value": 900, "limit": 400, "passed": True}},
    }))
    (tad / "fit" / "metrics.json").write_text(json.dumps({"a_bar": {"mean": 1.35, "sd": 0.25}, "sigma": {"mean": 1.62, "sd": 0.21}}))
    write_png(tad / "figures" / "survival.png")
    (tad / "logs").mkdir()
    (tad / "logs" / "tadpoles_fit.log").write_text("2026-01-01 00:00:00 WARNING bayespipe: 3 divergent transitions\n")
    (tad / "logs" / "tadpoles_fit.job.json").write_text(json.dumps({"rule": "tadpoles_fit", "wall_seconds": 1.5, "extra": {}}))
    zil = version / "zillow"
    (zil / "data").mkdir(parents=True)
    (zil / "data" / "data_card.json").write_text(json.dumps({"rows": 1500, "predictors": ["a", "b"], "source": "synthetic"}))
    (zil / "zillow_comparison.csv").write_text("model,validation_mae,tutorial_mae\nlinear,0.0901,0.0899\nrandom_effects,0.0850,0.0846\n")
    (zil / "linear_regression").mkdir()
    (zil / "linear_regression" / "diagnostics.json").write_text(json.dumps({"passed": True, "checks": {"rhat": {"passed": True}}}))
    (version / "report").mkdir()
    return version


def run_info(**overrides) -> RunInfo:
    base = dict(version="v1", config={"analyses": ["tadpoles", "zillow", "moons"], "report": True}, software={"numpy": "2.4.6"},
                stan_engine={"engine": "pystan", "stan": "2.35.0"}, analyses=["tadpoles", "zillow", "moons"],
                git={"commit": "abc123", "dirty": False}, host={"name": "vm", "cores": 2, "gpus": []})
    base.update(overrides)
    return RunInfo(**base)


def test_sections_follow_the_analyses_present(fake_version):
    html = render(fake_version, fake_version / "report" / "index.html", run_info())
    headings = re.findall(r"<section id=\"([^\"]+)\"><h2>", html)
    assert headings == ["summary", "analysis-zillow", "analysis-tadpoles", "provenance", "warnings"]
    assert "zillow_comparison.csv" in html and "0.0846" in html  # the comparison table
    assert "data_card.json" in html and "synthetic" in html
    assert "abc123" in html and "pystan" in html


def test_failed_gates_are_highlighted_and_warned(fake_version):
    html = render(fake_version, fake_version / "report" / "index.html", run_info())
    assert '<span class="badge fail">1 of 2 failed</span>' in html
    assert re.search(r'<tr class="fail"><td>tadpoles/fit/diagnostics.json</td><td>[^<]*</td><td>FAIL</td><td>checks.rhat</td>', html)
    warnings = html.split('id="warnings"')[1]
    assert "failed its convergence gates" in warnings
    assert "analysis moons is enabled but has no results folder" in warnings
    assert "3 divergent transitions" in warnings  # WARNING lines of job logs


def test_report_is_self_contained_and_links_resolve(fake_version):
    target = fake_version / "report" / "index.html"
    (fake_version / "manifest.json").write_text("{}")
    (fake_version / "ro-crate-metadata.json").write_text("{}")
    (fake_version / "report" / "code-snapshot").mkdir()
    (fake_version / "report" / "code-snapshot" / "Snakefile").write_text("")
    write_report(fake_version, target, run_info())
    html = target.read_text()
    refs = REFS.findall(html)
    assert not [r for r in refs if re.match(r"(https?:)?//", r)], "external URL in the report"
    assert "<script" not in html and "<link" not in html
    images = [r for r in refs if r.startswith("data:image/png;base64,")]
    assert len(images) == 1
    ids = set(re.findall(r'id="([^"]+)"', html))
    for ref in refs:
        if ref.startswith("#"):
            assert ref[1:] in ids, ref
        elif not ref.startswith("data:"):
            assert (target.parent / ref).exists(), ref


def test_gates_are_found_in_any_shape():
    data = {"fits": [{"name": "linear", "passed": True}, {"name": "random", "passed": False, "rhat_ok": False}]}
    gates = collect.find_gates(data, "x.json")
    assert [(g.name, g.passed, g.failed_checks) for g in gates] == [
        ("fits[linear]", True, []), ("fits[random]", False, ["rhat_ok"]),
    ]


def test_job_records_name_devices():
    records = [{"rule": "mnist_train", "extra": {"device": {"device_name": "/GPU:0", "gpus": ["H100"]}}},
               {"rule": "moons_fit", "extra": {"device": {"device_name": "/CPU:0", "gpus": []}}}, {"rule": "x", "extra": {}},
               {"rule": "sinusoid_fit", "extra": {"device": {"device_name": "/CPU:0", "gpus": []}}}]
    assert collect.devices(records) == ["/GPU:0 (H100) [mnist_train]", "/CPU:0 [moons_fit, sinusoid_fit]"]


# -- end to end on config/test.yaml ----------------------------------------------------------------
@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.mark.e2e
def test_rule_writes_a_section_per_analysis(report_versions):
    version = report_versions.a
    html = (version / "report" / "index.html").read_text()
    present = [p.name for p in version.iterdir() if p.is_dir() and p.name != "report"]
    assert present
    for name in present:
        assert f'id="analysis-{name}"' in html
    assert version.name in html
    assert (version / "report" / "code-snapshot" / "Snakefile").is_file()


@pytest.mark.e2e
def test_failed_gates_of_a_real_fit_are_highlighted(report_versions):
    html = (report_versions.b / "report" / "index.html").read_text()
    manifest = json.loads((report_versions.b / "manifest.json").read_text())
    diagnostics = [f["path"] for f in manifest["files"] if "diagnostic" in Path(f["path"]).name and f["path"].endswith(".json")]
    if not diagnostics:
        pytest.skip("no analysis of config/test.yaml writes a diagnostics JSON yet")
    assert 'class="badge fail"' in html, f"{CHANGED_KEY} = 1.0 should fail every R-hat gate"
    assert "failed its convergence gates" in html.split('id="warnings"')[1]


@pytest.mark.e2e
def test_snakemake_report_builds_and_audit_ignores_it(report_versions):
    from bayespipe.audit.check import audit

    workspace, version = report_versions.workspace, report_versions.b
    target = version / "snakemake-report.zip"
    run_in(workspace, "--configfile", "config/test-changed.yaml", "--report", str(target.relative_to(workspace)))
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    assert any(n.endswith("report.html") for n in names), names[:20]
    assert any("index.html" in n for n in names)  # the HTML report is one of the marked results
    assert audit(version) == []


@pytest.mark.e2e
def test_report_false_skips_the_html_report(repo_copy):
    planned = executed_jobs(run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "--config", "report=False", "-n").stdout)
    assert "report_code_snapshot" in planned  # the code snapshot is part of every version
    assert "report_html" not in planned
    planned = executed_jobs(run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "-n").stdout)
    assert planned["report_html"] == 1


def test_code_snapshot_copies_exactly_the_recorded_code(tmp_path):
    from bayespipe.io import sha256_file
    from bayespipe.report.snapshot import CodeChangedError, code_digest, verify_snapshot, write_snapshot
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
    assert verify_snapshot(target, code) == []
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(code)
    (root / "workflow" / "scripts" / "a.py").write_text("print(2)\n")  # edited during the run
    with pytest.raises(CodeChangedError):
        write_snapshot(root, target, code_digest(code))
    assert verify_snapshot(target, code) == []  # the earlier snapshot is left whole
