"""The version folder as a Workflow Run Crate, validated offline (workflow-run-crate-0.5)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from bayespipe.audit.check import audit
from bayespipe.audit.rocrate import write_crate
from bayespipe.audit.rocrate_validate import bundled_contexts, validate_crate

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.versions import versions  # noqa: E402


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.fixture
def no_network(monkeypatch):
    """Any HTTP request the validator tried would go to a dead proxy and fail."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def graph(version: Path) -> dict[str, dict]:
    data = json.loads((version / "ro-crate-metadata.json").read_text())
    return {entity["@id"]: entity for entity in data["@graph"]}


def test_contexts_ship_with_rocrate():
    assert "https://w3id.org/ro/crate/1.3/context" in bundled_contexts()


@pytest.mark.e2e
def test_run_writes_a_valid_workflow_run_crate(report_versions, tmp_path, no_network):
    version = report_versions.a
    assert validate_crate(version, tmp_path / "cache") == []
    assert audit(version) == []  # the crate is run metadata, not an unlisted result


@pytest.mark.e2e
def test_crate_describes_every_job(report_versions):
    version = report_versions.a
    entities = graph(version)
    manifest = json.loads((version / "manifest.json").read_text())
    main_entity = entities["./"]["mainEntity"]["@id"]
    assert main_entity == "report/code-snapshot/Snakefile"
    actions = [e for e in entities.values() if e.get("@type") == "CreateAction"]
    assert len(actions) == len(manifest["jobs"]) + 1
    run = entities[f"#run-{manifest['version']}"]
    assert run["instrument"]["@id"] == main_entity
    for job in manifest["jobs"]:
        stem = Path(job["job"]).name[: -len(".job.json")]
        action = entities[f"#job-{stem}"]
        results = (
            {r["@id"] for r in action["result"]}
            if isinstance(action["result"], list)
            else {action["result"]["@id"]}
        )
        assert set(job["outputs"]) <= results | {
            o for o in job["outputs"] if (version / o).is_dir()
        }
    files = {f["path"] for f in manifest["files"]}
    assert files <= set(entities)


@pytest.mark.e2e
def test_validator_rejects_a_crate_without_its_workflow(report_versions, tmp_path, no_network):
    broken = tmp_path / "broken"
    shutil.copytree(report_versions.a, broken)
    data = json.loads((broken / "ro-crate-metadata.json").read_text())
    for entity in data["@graph"]:
        if entity["@id"] == "./":
            del entity["mainEntity"]
    (broken / "ro-crate-metadata.json").write_text(json.dumps(data))
    failures = validate_crate(broken, tmp_path / "cache")
    assert any("workflow-ro-crate" in f for f in failures), failures
    write_crate(broken)  # rebuilt from the manifest, it validates again
    assert validate_crate(broken, tmp_path / "cache2") == []
