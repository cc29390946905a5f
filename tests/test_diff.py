"""``bayespipe diff``: two versions differing in one config key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bayespipe.audit.diff import diff_versions, flatten, format_diff
from bayespipe.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.versions import CHANGED_KEY, CHANGED_VALUE, versions  # noqa: E402


def fake_version(
    root: Path, name: str, *, seed: int, mae: float, code_sha: str, seconds: float = 1.0
) -> Path:
    folder = root / name
    (folder / "m").mkdir(parents=True)
    (folder / "m" / "metrics.json").write_text(json.dumps({"validation": {"mae": mae}}))
    # a metrics file whose writer declares train_seconds per-run (bayespipe.audit.volatile)
    (folder / "moons" / "full_batch").mkdir(parents=True)
    metrics = {"test_accuracy": 0.9, "train_seconds": seconds}
    (folder / "moons" / "full_batch" / "metrics.json").write_text(json.dumps(metrics))
    manifest = {
        "version": name,
        "config": {"m": {"seed": seed, "chains": 2}},
        "code": {"a.py": code_sha},
        "data": {},
        "software": {"numpy": "2.4.6"},
        "stan_engine": {},
        "jobs": [{"rule": "m_fit", "reused_from": None if seed else "earlier"}],
        "files": [
            {"path": "m/metrics.json", "sha256": str(mae), "kind": "output"},
            {"path": "moons/full_batch/metrics.json", "sha256": str(seconds), "kind": "output"},
            {"path": "m/logs/x.log", "sha256": str(seed), "kind": "log"},
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_names_the_key_the_outputs_and_the_metric(tmp_path):
    a = fake_version(tmp_path, "a", seed=1, mae=0.09, code_sha="x")
    b = fake_version(tmp_path, "b", seed=2, mae=0.08, code_sha="x")
    result = diff_versions(a, b)
    assert [(c.key, c.a, c.b) for c in result.config] == [("m.seed", 1, 2)]
    assert result.code == [] and result.software == []
    assert result.outputs_changed == ["m/metrics.json"]  # logs are not outputs
    assert [(c.key, c.a, c.b) for c in result.metrics] == [
        ("m/metrics.json:validation.mae", 0.09, 0.08)
    ]
    assert "m.seed: 1 -> 2" in format_diff(result)
    assert result.jobs_run == ["m_fit"] and result.jobs_reused == 0
    reused = diff_versions(b, fake_version(tmp_path, "c", seed=0, mae=0.08, code_sha="x"))
    assert reused.jobs_run == [] and reused.jobs_reused == 1
    assert "jobs run for c: none; 1 jobs reused" in format_diff(reused)


def test_identical_versions_exit_zero(tmp_path, capsys):
    a = fake_version(tmp_path, "a", seed=1, mae=0.09, code_sha="x")
    assert main(["diff", str(a), str(a)]) == 0
    b = fake_version(tmp_path, "b", seed=1, mae=0.09, code_sha="y")
    assert main(["diff", str(a), str(b)]) == 1
    assert "a.py" in capsys.readouterr().out


def test_per_run_fields_are_listed_apart_and_are_no_difference(tmp_path):
    a = fake_version(tmp_path, "a", seed=1, mae=0.09, code_sha="x", seconds=3.1)
    b = fake_version(tmp_path, "b", seed=1, mae=0.09, code_sha="x", seconds=2.4)
    result = diff_versions(a, b)
    assert result.outputs_changed == [] and result.metrics == []
    assert result.outputs_per_run == ["moons/full_batch/metrics.json"]
    assert [c.key for c in result.metrics_per_run] == [
        "moons/full_batch/metrics.json:train_seconds"
    ]
    assert result.empty
    c = fake_version(tmp_path, "c", seed=1, mae=0.08, code_sha="x", seconds=2.4)
    assert diff_versions(a, c).outputs_changed == ["m/metrics.json"]


def test_flatten_keeps_lists_whole():
    assert flatten({"a": {"b": [1, 2], "c": {"d": None}}}) == {"a.b": [1, 2], "a.c.d": None}


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.mark.e2e
def test_two_runs_differing_in_one_key(report_versions, capsys):
    result = diff_versions(report_versions.a, report_versions.b)
    assert [c.key for c in result.config] == [CHANGED_KEY]
    assert result.config[0].b == CHANGED_VALUE
    assert (
        result.code == []
        and result.data == []
        and result.software == []
        and result.stan_engine == []
    )
    # The data preparation does not read the gates: same bytes. Whatever changed is the analysis's.
    assert "tadpoles/data/reedfrogs.parquet" not in result.outputs_changed
    manifest_a = {
        f["path"]: f["sha256"]
        for f in json.loads((report_versions.a / "manifest.json").read_text())["files"]
    }
    manifest_b = {
        f["path"]: f for f in json.loads((report_versions.b / "manifest.json").read_text())["files"]
    }
    expected = sorted(
        p
        for p, f in manifest_b.items()
        if f["kind"] == "output"
        and not p.startswith("report/")
        and p in manifest_a
        and manifest_a[p] != f["sha256"]
    )
    assert sorted(result.outputs_changed + result.outputs_per_run) == expected
    from bayespipe.catalog import ANALYSES

    readers = tuple(
        f"{a.name}/" for a in ANALYSES.values() if CHANGED_KEY.split(".")[0] in a.config_sections
    )
    assert result.outputs_changed and all(p.startswith(readers) for p in result.outputs_changed)
    assert main(["diff", str(report_versions.a), str(report_versions.b)]) == 1
    out = capsys.readouterr().out
    assert f"config: 1 difference\n  {CHANGED_KEY}:" in out
