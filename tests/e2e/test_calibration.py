"""The calibration analysis in the end-to-end run of config/test.yaml (Snakemake)."""

import json

import pytest

from bayespipe.analyses.calibration.design import PROGRAMS
from conftest import version_dir_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def calibration_dir(test_run):
    return version_dir_of(test_run) / "calibration"


def check_calibration_folder(folder) -> dict:
    """Every program judged and passing, figures and batches present, listed in the manifest."""
    programs = json.loads((folder / "calibration.json").read_text())
    assert sorted(programs) == sorted(PROGRAMS)
    listed = {e["path"] for e in json.loads((folder.parent / "manifest.json").read_text())["files"]}
    for name, result in programs.items():
        assert result["verdict"] == "pass", (name, result["reasons"])
        assert result["completed"] + result["failed_fits"] == result["replications"]
        assert result["quantities"] and result["seconds"] > 0
        figure = folder / "figures" / f"{name}.png"
        assert figure.read_bytes()[:4] == b"\x89PNG" and f"calibration/figures/{name}.png" in listed
        batches = sorted((folder / "batches" / name).glob("*.json"))
        assert batches and all(f"calibration/batches/{name}/{b.name}" in listed for b in batches)
        record = json.loads((folder / "logs" / f"calibration_batch_{name}_0.job.json").read_text())
        assert record["stan_file"] == f"stan/{name}.stan"
    return programs


def test_every_program_passes_at_the_test_size(calibration_dir):
    check_calibration_folder(calibration_dir)
