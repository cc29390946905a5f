"""Simulation-based calibration with a real Stan engine (CmdStan when installed, else PyStan).

A copy of a program with a planted error is flagged, and the real programs pass at the size of
config/test.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayespipe import software
from bayespipe.analyses.calibration import batch, design, verdict
from bayespipe.analyses.tadpoles import reedfrogs
from bayespipe.config import load_config
from bayespipe.engines.stan.engine import get_engine

REPO = Path(__file__).resolve().parents[1]
ENGINE = software.resolve_stan_engine("auto")
TEST_SETTINGS = load_config(REPO / "config" / "test.yaml")["calibration"]
RIGHT_PRIOR = "sigma_zip ~ normal(0, 1);"
WRONG_PRIOR = "sigma_zip ~ normal(0, 0.25);"  # the simulator keeps half-normal(0, 1)


def _zillow_tables(folder: Path, zips: int = 10, seed: int = 16) -> dict:
    """Prepared-table lookalikes: standardized predictors, uneven zips, x2 sometimes missing."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(1, zips + 1), rng.integers(2, 9, zips))
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=len(groups)),
            "x2": rng.normal(size=len(groups)),
            "x3": rng.normal(size=len(groups)),
            "zip_index": groups,
        }
    )
    frame["x2_missing"] = rng.random(len(groups)) < 0.2
    frame.to_parquet(folder / "missing.parquet")
    frame[~frame["x2_missing"]].to_parquet(folder / "train.parquet")
    (folder / "predictors.json").write_text(
        json.dumps(
            {"predictors": ["x1", "x2", "x3"], "n_groups": zips, "imputable_predictor": "x2"}
        )
    )
    return {
        "train": folder / "train.parquet",
        "missing": folder / "missing.parquet",
        "predictors": folder / "predictors.json",
    }


def _design(program: str, folder: Path, scale: float) -> Path:
    frogs = folder / "reedfrogs.parquet"
    if not frogs.exists():
        reedfrogs.prepare(REPO / "data" / "reedfrogs.csv", frogs)
    inputs = design.design_inputs(program, frogs, _zillow_tables(folder))
    path = folder / f"{program}.design.json"
    design.make_design(program, inputs, scale, path)
    return path


def _calibrate(program, stan_file, design_path, settings, folder, name=None) -> dict:
    """The workflow's two-stage verdict, with every batch run in this process.

    The workflow's two-stage verdict (screening, then confirmation if flagged), with every batch run
    in this process; the workflow runs the batches as separate jobs.
    """
    folder = Path(folder)
    label = name or program
    stamp = folder / f"{label}.compile.json"
    get_engine(ENGINE).compile(stan_file, stamp)
    size = (settings["replications"], settings["batch_size"])
    records: list[dict] = []
    for batches in (range(batch.batch_count(*size)), batch.confirmation_batches(*size)):
        for number in batches:
            records += batch.run_batch(
                program,
                number,
                stan_file=stan_file,
                stamp=stamp,
                design_path=design_path,
                settings=settings,
                engine=ENGINE,
                destination=batch.batch_file(folder, label, number),
                program_name=name,
            )["replications"]
        result = verdict.judge(records, settings)
        if not verdict.needs_confirmation(result):
            break
    written = [json.loads(p.read_text()) for p in Path(folder).rglob("*/*.json")]
    assert written and {b["engine"] for b in written} == {ENGINE}
    return result


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """intercepts_only.stan with the zip-scale prior narrowed in the model block only."""
    folder = tmp_path_factory.mktemp("planted")
    source = (REPO / "stan" / "intercepts_only.stan").read_text()
    assert source.count(RIGHT_PRIOR) == 1, "the prior line moved: update the planted error"
    wrong = folder / "intercepts_only_narrow_zip_prior.stan"
    wrong.write_text(source.replace(RIGHT_PRIOR, WRONG_PRIOR))
    return folder, wrong


def test_a_prior_that_differs_from_the_simulator_is_flagged(planted):
    print(f"Stan engine: {ENGINE}")
    folder, wrong = planted
    settings = {**TEST_SETTINGS, "replications": 40, "batch_size": 20}
    design_path = _design("intercepts_only", folder, 0.5)
    flagged = _calibrate(
        "intercepts_only",
        wrong,
        design_path,
        settings,
        folder / "wrong",
        name="intercepts_only_narrow_zip_prior",
    )
    assert flagged["verdict"] == "fail", flagged
    # a real error repeats on the independent confirmation replications
    assert (flagged["screening"], flagged["confirmation"]) == ("flagged", "fail")
    assert not flagged["quantities"]["sigma_zip"]["inside_band"]
    assert not flagged["confirmation_result"]["quantities"]["sigma_zip"]["inside_band"]
    # the narrow prior pulls sigma_zip down: the truth sits above most draws
    assert flagged["quantities"]["sigma_zip"]["mean_pit"] > 0.6
    right = _calibrate(
        "intercepts_only",
        REPO / "stan" / "intercepts_only.stan",
        design_path,
        settings,
        folder / "right",
    )
    assert right["verdict"] == "pass", right
    assert right["failed_fits"] == 0


@pytest.mark.parametrize("program", design.PROGRAMS)
def test_the_real_programs_pass_at_the_test_size(program, tmp_path):
    settings = TEST_SETTINGS
    design_path = _design(program, tmp_path, settings["scale"])
    result = _calibrate(program, REPO / "stan" / f"{program}.stan", design_path, settings, tmp_path)
    assert result["replications"] == settings["replications"]
    assert result["verdict"] == "pass", result
    assert result["screening"] == "pass", result  # no confirmation needed at this size
    assert len(result["quantities"]) >= 3
