"""``bayespipe reproduce``: a re-run compared file by file.

A tampered file is an unexpected difference; only the fields a writer declares per-run are set
aside.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bayespipe.audit import reproduce as rp
from bayespipe.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.versions import TAMPERED_FILE, versions  # noqa: E402


def pair(tmp_path: Path, name: str, a: bytes | str, b: bytes | str) -> tuple[Path, Path]:
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    for side, content in (("a", a), ("b", b)):
        path = tmp_path / side / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return tmp_path / "a" / name, tmp_path / "b" / name


def test_json_differing_only_in_declared_fields_is_equivalent(tmp_path):
    a, b = pair(
        tmp_path,
        "metrics.json",
        '{"accuracy": 0.9, "train_seconds": 3.1}',
        '{"accuracy": 0.9, "train_seconds": 2.0}',
    )
    assert rp.compare_file("moons/full_batch/metrics.json", a, b, None, []).status == rp.EQUIVALENT
    # the same keys in a file whose writer declares nothing per-run: a difference
    assert rp.compare_file("moons/data/other.json", a, b, None, []).status == rp.UNEXPECTED


def test_job_records_compare_all_but_their_clocks(tmp_path):
    record = {
        "rule": "moons_fit",
        "outputs": ["moons/full_batch/metrics.json"],
        "start_time": "2026-01-01T00:00:00",
        "wall_seconds": 3.0,
        "host": "a",
        "extra": {"test_accuracy": 0.9, "train_seconds": 2.5},
    }
    rerun = {
        **record,
        "start_time": "2026-01-02T00:00:00",
        "wall_seconds": 4.0,
        "host": "b",
        "extra": {"test_accuracy": 0.9, "train_seconds": 3.5},
    }
    a, b = pair(tmp_path, "r.job.json", json.dumps(record), json.dumps(rerun))
    assert rp.compare_file("moons/logs/r.job.json", a, b, None, []).status == rp.EQUIVALENT
    changed = {**rerun, "extra": {"test_accuracy": 0.8, "train_seconds": 3.5}}
    a, b = pair(tmp_path, "r.job.json", json.dumps(record), json.dumps(changed))
    assert rp.compare_file("moons/logs/r.job.json", a, b, None, []).status == rp.UNEXPECTED


def test_a_result_named_like_a_clock_or_path_is_compared(tmp_path):
    """A field whose name holds 'at', 'path' or 'time' is compared.

    Only declared ones are set aside.
    """
    truth = {"missing_completely_at_random": True, "betas": [0.1, 0.2]}
    for rel in (
        "zillow/data/raw/synthetic_truth.json",
        "zillow/data/truth.json",
        "zillow/linear_regression/heldout_metrics.json",
    ):
        a, b = pair(
            tmp_path,
            "truth.json",
            json.dumps(truth),
            json.dumps({**truth, "missing_completely_at_random": False}),
        )
        result = rp.compare_file(rel, a, b, None, [])
        assert result.status == rp.UNEXPECTED, (rel, result.detail)
        assert "missing_completely_at_random" in result.detail


def test_changed_number_is_unexpected_with_its_size(tmp_path):
    a, b = pair(
        tmp_path,
        "summary.csv",
        "# took 3s\nname,mean\na_bar,1.35\n",
        "# took 4s\nname,mean\na_bar,1.45\n",
    )
    result = rp.compare_file("m/summary.csv", a, b, None, [])
    assert result.status == rp.UNEXPECTED and "max |difference| 0.1" in result.detail
    assert rp.compare_file("m/summary.csv", a, b, "trained on a GPU", []).status == rp.EXPECTED


def test_declared_clock_columns_of_tables_are_per_run(tmp_path):
    rel = "tadpoles/compare/nuts_vs_tfp_hmc.csv"
    header = "sampler,min_ess_bulk,wall_seconds\n"
    a, b = pair(tmp_path, "t.csv", header + "NUTS,310,1.2\n", header + "NUTS,310,1.9\n")
    assert rp.compare_file(rel, a, b, None, []).status == rp.EQUIVALENT
    a, b = pair(tmp_path, "t.csv", header + "NUTS,310,1.2\n", header + "NUTS,290,1.2\n")
    assert rp.compare_file(rel, a, b, None, []).status == rp.UNEXPECTED
    a, b = pair(tmp_path, "t.csv", header + "NUTS,310,1.2\n", header + "NUTS,310,1.9\n")
    assert rp.compare_file("m/history.csv", a, b, None, []).status == rp.UNEXPECTED  # undeclared


def test_comment_lines_and_logs_are_per_run(tmp_path):
    a, b = pair(tmp_path, "draws.csv", "# elapsed 1\nx\n1\n", "# elapsed 2\nx\n1\n")
    assert rp.compare_file("m/draws.csv", a, b, None, []).status == rp.EQUIVALENT
    a, b = pair(tmp_path, "fit.log", "t=1", "t=2")
    assert rp.compare_file("m/logs/fit.log", a, b, None, []).status == rp.EQUIVALENT


def test_figures_report_pixel_differences(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for side, y in (("a", 0.0), ("b", 0.5)):
        (tmp_path / side).mkdir()
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1], [y, 1])
        fig.savefig(tmp_path / side / "f.png")
        plt.close(fig)
        paths.append(tmp_path / side / "f.png")
    result = rp.compare_file("m/f.png", *paths, None, [])
    assert result.status == rp.EXPECTED and "of pixels differ" in result.detail


def test_gpu_jobs_are_non_deterministic():
    manifest = {
        "jobs": [
            {
                "outputs": ["mnist/train/w.h5"],
                "extra": {"device": {"device": "gpu", "device_name": "/GPU:0"}},
            },
            {
                "outputs": ["moons/fit.json"],
                "extra": {"device": {"device": "cpu", "deterministic": True}},
            },
        ]
    }
    assert rp.nondeterministic_outputs(manifest) == {"mnist/train/w.h5": "trained on a GPU"}


def test_code_that_matches_no_record_is_refused(tmp_path):
    version = tmp_path / "v"
    version.mkdir()
    manifest = {"code": {"Snakefile": "0" * 64}, "git": None}
    with pytest.raises(rp.ReproduceError, match="recorded code is not available"):
        rp.locate_code(version, manifest, tmp_path, tmp_path)


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.mark.e2e
def test_tampered_version_is_not_reproduced(report_versions, tmp_path, capsys):
    summary = tmp_path / "reproduce.json"
    code = main(
        [
            "reproduce",
            str(report_versions.tampered),
            "--scratch",
            str(tmp_path),
            "--json",
            str(summary),
        ]
    )
    out = capsys.readouterr().out
    print(out)  # the summary is worth reading in the test log
    assert code == 1
    result = json.loads(summary.read_text())
    assert result["run_ok"] and result["reproduced_version"] == result["version"]
    assert result["code_source"].startswith("snapshot")
    assert (
        f"modified: {TAMPERED_FILE} (sha256 differs from the manifest)" in result["audit_problems"]
    )
    unexpected = [f["path"] for f in result["files"] if f["status"] == "unexpected"]
    assert unexpected == [TAMPERED_FILE], "everything but the tampered file must reproduce"
    identical = [f["path"] for f in result["files"] if f["status"] == "identical"]
    assert "report/code-snapshot/Snakefile" in identical
    assert any(
        p.startswith("tadpoles/") and not p.startswith(("tadpoles/logs", "tadpoles/benchmarks"))
        for p in identical
    )
    assert "NOT REPRODUCED" in out


def test_hdf5_compared_by_datasets(tmp_path):
    import h5py
    import numpy as np

    for side, value in (("a", 1.0), ("b", 1.0), ("c", 1.5)):
        with h5py.File(tmp_path / f"{side}.h5", "w", track_order=True) as handle:
            handle.attrs["saved_at"] = side  # metadata that differs between runs
            handle.create_dataset("layer/kernel", data=np.full((2, 2), value))
    assert (
        rp.compare_file("m/w.h5", tmp_path / "a.h5", tmp_path / "b.h5", None, []).status
        == rp.EQUIVALENT
    )
    changed = rp.compare_file("m/w.h5", tmp_path / "a.h5", tmp_path / "c.h5", None, [])
    assert changed.status == rp.UNEXPECTED and "0.5" in changed.detail


def test_scratch_checkout_gets_every_code_file_and_the_recorded_config(tmp_path):
    """The manifest's code lists what the version id covers; the run needs the rest too."""
    from bayespipe.audit.staging import stage_checkout
    from bayespipe.io import sha256_file

    source = tmp_path / "snapshot"
    for rel in ("Snakefile", "workflow/rules/a.smk", "workflow/envs/bayespipe.yaml"):
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(f"# {rel}\n")
    code = {rel: sha256_file(source / rel) for rel in ("Snakefile", "workflow/rules/a.smk")}
    manifest = {"code": code, "config": {"results_dir": "/abs/results", "seed": 3}, "jobs": []}
    checkout = tmp_path / "work" / "repo"
    assert stage_checkout(source, manifest, tmp_path, checkout) == []
    environment = checkout / "workflow/envs/bayespipe.yaml"
    assert environment.read_text() == "# workflow/envs/bayespipe.yaml\n"
    config = (checkout / "config/config.yaml").read_text()
    assert "results_dir: results" in config and "seed: 3" in config  # never the original folder
