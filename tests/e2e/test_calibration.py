"""The calibration analysis in the end-to-end run of config/test.yaml (Snakemake)."""

import json

import pytest

from bayespipe.analyses.calibration.design import PROGRAMS, model_program
from conftest import TEST_CONFIG, executed_jobs, run_snakemake, version_dir_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def calibration_dir(test_run):
    return version_dir_of(test_run) / "calibration"


def check_calibration_folder(folder) -> dict:
    """Every program judged and passing, figures and batches present, listed in the manifest."""
    programs = json.loads((folder / "calibration.json").read_text())
    manifest = json.loads((folder.parent / "manifest.json").read_text())
    config = manifest["config"]
    stan_files = {name: f"stan/{name}.stan" for name in config["calibration"]["programs"]}
    for block in config["calibration"]["models"]:  # models: blocks, no simulator written
        stan_files[model_program(block)] = config["models"][block]["program"]
    assert sorted(programs) == sorted(stan_files)
    assert set(config["calibration"]["programs"]) == set(PROGRAMS)
    listed = {e["path"] for e in manifest["files"]}
    for name, result in programs.items():
        assert result["verdict"] == "pass", (name, result["reasons"])
        assert result["completed"] + result["failed_fits"] == result["replications"]
        assert result["quantities"] and result["seconds"] > 0
        figure = folder / "figures" / f"{name}.png"
        assert figure.read_bytes()[:4] == b"\x89PNG" and f"calibration/figures/{name}.png" in listed
        batches = sorted((folder / "batches" / name).glob("*.json"))
        assert batches and all(f"calibration/batches/{name}/{b.name}" in listed for b in batches)
        record = json.loads((folder / "logs" / f"calibration_batch_{name}_0.job.json").read_text())
        assert record["stan_file"] == stan_files[name]
    return programs


def test_every_program_passes_at_the_test_size(calibration_dir):
    check_calibration_folder(calibration_dir)


def test_a_flagged_program_gets_confirmation_batches(repo_copy):
    """A small run takes the checkpoint's confirmation path.

    Below 10 completed fits the screening always flags a program, so this small run takes the
    checkpoint's confirmation path: batches of independent replications run, are judged, and are
    part of the version.
    """
    (repo_copy / "confirm.yaml").write_text(
        json.dumps(
            {
                "analyses": ["calibration"],
                "report": False,
                "calibration": {"programs": ["tadpoles"], "replications": 6, "batch_size": 3},
            }
        )
    )
    run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "confirm.yaml")
    folder = version_dir_of(repo_copy) / "calibration"
    screen = json.loads((folder / "screens" / "tadpoles.json").read_text())
    assert screen == {
        "tadpoles": {
            "screening": "flagged",
            "reasons": ["only 6 completed replications (need 10)"],
            "confirm": True,
        }
    }
    result = json.loads((folder / "calibration.json").read_text())["tadpoles"]
    assert (result["verdict"], result["screening"], result["confirmation"]) == (
        "fail",
        "flagged",
        "fail",
    )
    assert result["confirmation_result"]["replications"] == 6
    confirmation = [json.loads((folder / f"batches/tadpoles/{b}.json").read_text()) for b in (2, 3)]
    numbers = [r["replication"] for b in confirmation for r in b["replications"]]
    assert numbers == list(range(6, 12))
    listed = {e["path"] for e in json.loads((folder.parent / "manifest.json").read_text())["files"]}
    assert {"calibration/screens/tadpoles.json", "calibration/batches/tadpoles/3.json"} <= listed
    again = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "confirm.yaml", "-n")
    assert executed_jobs(again.stdout) == {}
