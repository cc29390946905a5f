"""``bayespipe lineage``: from a result file back to the raw inputs, with hashes checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bayespipe.audit.lineage import broken, format_lineage, lineage, path_in_version
from bayespipe.cli import main
from bayespipe.errors import InputError
from bayespipe.io import sha256_file

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.versions import versions  # noqa: E402


def fake_chain(root: Path) -> Path:
    """raw.csv -> prepare -> a/table.csv -> fit -> a/fit.json, recorded like the manifest does."""
    (root / "data").mkdir(parents=True)
    raw = root / "data" / "raw.csv"
    raw.write_text("x\n1\n")
    version = root / "results" / "v1"
    (version / "a").mkdir(parents=True)
    (version / "a" / "table.csv").write_text("x\n1\n")
    (version / "a" / "fit.json").write_text('{"mu": 1}')
    table_sha, fit_sha = (
        sha256_file(version / "a" / "table.csv"),
        sha256_file(version / "a" / "fit.json"),
    )
    prepare = {
        "rule": "prepare",
        "job": "a/logs/prepare.job.json",
        "script": {"path": "workflow/scripts/prepare.py", "sha256": "1" * 64},
        "stan_program": None,
        "params": {},
        "inputs": [{"path": "data/raw.csv", "sha256": sha256_file(raw)}],
        "kind": "output",
    }
    fit = {
        "rule": "fit",
        "job": "a/logs/fit.job.json",
        "script": {"path": "workflow/scripts/fit.py", "sha256": "2" * 64},
        "stan_program": {"path": "stan/m.stan", "sha256": "3" * 64},
        "params": {"seed": 7},
        "inputs": [{"path": "results/v1/a/table.csv", "sha256": table_sha}],
        "kind": "output",
    }
    manifest = {
        "version": "v1",
        "workdir": str(root),
        "config": {"results_dir": "results"},
        "software": {"numpy": "2.4.6"},
        "stan_engine": {"engine": "pystan"},
        "git": {"commit": "abc", "dirty": False},
        "files": [
            {"path": "a/table.csv", "sha256": table_sha, **prepare},
            {"path": "a/fit.json", "sha256": fit_sha, **fit},
        ],
    }
    (version / "manifest.json").write_text(json.dumps(manifest))
    return version


def test_chain_reaches_the_raw_input(tmp_path):
    version = fake_chain(tmp_path)
    result = lineage(version / "a" / "fit.json")
    assert [s.rule for s in result.steps] == ["fit", "prepare"]
    assert result.steps[0].stan_program["path"] == "stan/m.stan" and result.steps[0].params == {
        "seed": 7
    }
    assert [r.path for r in result.raw_inputs] == ["data/raw.csv"]
    assert broken(result) == []
    text = format_lineage(result)
    assert (
        "<- rule fit" in text
        and "stan program stan/m.stan" in text
        and "data/raw.csv (raw input)" in text
    )


def test_changed_files_break_the_chain(tmp_path, capsys):
    version = fake_chain(tmp_path)
    (tmp_path / "data" / "raw.csv").write_text("x\n2\n")
    (version / "a" / "table.csv").write_text("x\n9\n")
    result = lineage(version / "a" / "fit.json")
    assert broken(result) == ["a/table.csv: modified", "data/raw.csv: modified"]
    assert main(["lineage", str(version / "a" / "fit.json")]) == 1
    assert "[modified]" in capsys.readouterr().out


def test_unlisted_file_is_an_input_error(tmp_path):
    version = fake_chain(tmp_path)
    (version / "a" / "extra.txt").write_text("?")
    with pytest.raises(InputError, match="not listed"):
        lineage(version / "a" / "extra.txt")


def test_paths_of_reused_versions_map_into_this_one():
    manifest = {"config": {"results_dir": "results"}, "workdir": "/w"}
    assert path_in_version("results/old/tadpoles/x.csv", manifest) == "tadpoles/x.csv"
    assert path_in_version("/w/results/v/tadpoles/x.csv", manifest) == "tadpoles/x.csv"
    assert path_in_version("data/reedfrogs.csv", manifest) is None


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.mark.e2e
def test_lineage_of_the_last_tadpoles_output(report_versions, capsys):
    version = report_versions.a
    manifest = json.loads((version / "manifest.json").read_text())
    outputs = [
        f for f in manifest["files"] if f["kind"] == "output" and f["path"].startswith("tadpoles/")
    ]
    deepest = max(outputs, key=lambda f: len(lineage(version / f["path"]).steps))
    result = lineage(version / deepest["path"])
    assert result.steps[-1].rule == "reedfrogs_prepare" or any(
        s.rule == "reedfrogs_prepare" for s in result.steps
    )
    assert [r.path for r in result.raw_inputs] == [manifest["config"]["reedfrogs"]["path"]]
    assert broken(result) == []
    for step in result.steps:  # each script hash is the one of the code snapshot
        snapshot = version / "report" / "code-snapshot" / step.script["path"]
        assert sha256_file(snapshot) == step.script["sha256"]
    assert main(["lineage", str(version / deepest["path"])]) == 0
    out = capsys.readouterr().out
    assert "reedfrogs_prepare" in out and "software:" in out and "snakemake" in out
