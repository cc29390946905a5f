"""End to end with a real CmdStan.

Config/test.yaml with ``stan.engine: cmdstanpy`` (the Stan analyses, tadpoles and zillow), audited;
then the tadpoles fit and one Zillow fit rerun with pathfinder and ADVI from that run's own job
records (same inputs, same params, other method). Skips with its reason where CmdStan is not
installed (CI builds one: see .ci/run).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bayespipe.engines.stan.cmdstanpy_engine import DEFAULT_EXE_CACHE, CmdStanPyEngine
from bayespipe.engines.stan.outputs import FIT_FILES
from bayespipe.io import read_json
from conftest import (
    BIN,
    TEST_CONFIG,
    copy_repo,
    executed_jobs,
    git_checkout,
    require_cmdstan,
    run_snakemake,
    version_dir_of,
)

pytestmark = pytest.mark.e2e
STAN_ANALYSES = "analyses=[tadpoles,zillow]"


@pytest.fixture(scope="module")
def cmdstan_run(tmp_path_factory) -> tuple[Path, str]:
    """A git checkout copy with one run of config/test.yaml on CmdStanPy (Stan analyses only)."""
    require_cmdstan()
    root = tmp_path_factory.mktemp("cmdstan-run")
    workdir = git_checkout(copy_repo(root / "repo"))
    overlay = root / "cmdstanpy.yaml"
    overlay.write_text("stan: {engine: cmdstanpy}\n")
    result = run_snakemake(
        workdir, "--configfile", TEST_CONFIG, str(overlay), "--config", STAN_ANALYSES
    )
    return workdir, result.stdout


def test_cmdstanpy_run_is_complete_and_audits_ok(cmdstan_run):
    workdir, output = cmdstan_run
    version = version_dir_of(workdir)
    manifest = read_json(version / "manifest.json")
    assert manifest["config"]["stan"]["engine"] == "cmdstanpy"
    assert manifest["stan_engine"]["engine"] == "cmdstanpy" and manifest["stan_engine"]["cmdstan"]
    assert executed_jobs(output).get("zillow_stan_compile") == 4
    stamps = sorted(version.glob("*/stan/*.compile.json"))
    assert len(stamps) == 5, stamps
    for path in stamps:
        stamp = read_json(path)
        assert stamp["engine"] == "cmdstanpy", path
        assert Path(stamp["exe_file"]).parent.parent == DEFAULT_EXE_CACHE  # the per-machine cache
    for path in sorted(version.glob("*/**/diagnostics.json")):
        diagnostics = read_json(path)
        assert diagnostics["method"] == "nuts" and diagnostics["approximate"] is False, path
        assert diagnostics["engine"]["engine"] == "cmdstanpy", path
    audit = subprocess.run(
        [str(BIN / "bayespipe"), "audit", str(workdir / "results" / "latest")],
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_compiling_again_reuses_every_executable(cmdstan_run, tmp_path):
    """What a rerun or any later test run does: the compile finds the executable in the cache."""
    workdir, _ = cmdstan_run
    for path in sorted(version_dir_of(workdir).glob("*/stan/*.compile.json")):
        stamp = read_json(path)
        exe = Path(stamp["exe_file"])
        built = exe.stat().st_mtime_ns
        again = CmdStanPyEngine().compile(
            workdir / stamp["stan_file"],
            tmp_path / path.name,
            cpp_options=stamp["cpp_options"],
            stanc_options=stamp["stanc_options"],
        )
        assert again["exe_file"] == str(exe) and again["exe_sha256"] == stamp["exe_sha256"], path
        assert exe.stat().st_mtime_ns == built, f"{exe} was rebuilt"


def rerun_inputs(workdir: Path, analysis: str, job: str) -> tuple[dict, dict]:
    """Input paths (absolute) and params of one job of the run, from its job record."""
    record = read_json(version_dir_of(workdir) / analysis / "logs" / f"{job}.job.json")
    names = record["input_names"]
    inputs = {name: (str(workdir / value) if value else None) for name, value in names.items()}
    return inputs, record["params"]


def check_approximate(method: str, folder: Path) -> None:
    """The approximate fit's diagnostics.json and its fit files in ``folder``."""
    written = json.loads((folder / "diagnostics.json").read_text())
    assert written["method"] == method and written["approximate"] is True
    assert isinstance(written["pareto_k"], float) and "max_rhat" not in written
    assert written["passed"] == (not written["failed"])
    if method == "advi":
        assert written["elbo"]["iterations"] > 0
    for name in FIT_FILES.values():
        assert (folder / name).stat().st_size > 0, name


@pytest.mark.parametrize("method", ["pathfinder", "advi"])
def test_tadpoles_with_an_approximate_method(cmdstan_run, tmp_path, method):
    import arviz as az

    from bayespipe.analyses.tadpoles import model as tadpoles

    workdir, _ = cmdstan_run
    inputs, params = rerun_inputs(workdir, "tadpoles", "tadpoles_fit")
    folder = tmp_path / "fit"
    result = tadpoles.fit(
        inputs["table"],
        inputs["stan_file"],
        inputs["stamp"],
        {name: str(folder / file) for name, file in FIT_FILES.items()},
        tmp_path / "metrics.json",
        engine=params["engine"],
        sampler={**params["sampler"], "method": method, "chains": 4},
        thresholds=params["diagnostics"],
    )
    check_approximate(method, folder)
    assert result["chains"] == 1 and result["draws_per_chain"] == params["sampler"]["draws"]
    nuts = read_json(version_dir_of(workdir) / "tadpoles" / "fit" / "metrics.json")
    # the approximation lands near NUTS's posterior mean of a_bar (sd ~0.2 in this data)
    assert abs(result["a_bar"]["mean"] - nuts["a_bar"]["mean"]) < 0.5
    assert result["a_bar"]["sd"] > 0.05  # draws, not a mean
    saved = az.from_netcdf(folder / "posterior.nc")
    assert {"posterior", "log_likelihood", "posterior_predictive", "prior"} <= set(saved.groups())


@pytest.mark.parametrize("method", ["pathfinder", "advi"])
def test_zillow_random_intercepts_with_an_approximate_method(cmdstan_run, tmp_path, method):
    from bayespipe.analyses.zillow import fit

    workdir, _ = cmdstan_run
    model = "random_intercepts"
    inputs, params = rerun_inputs(workdir, "zillow", f"zillow_fit_{model}")
    outputs = {name: str(tmp_path / file) for name, file in fit.output_files(model).items()}
    keys = ("stan_file", "stamp", "train", "validation", "predictors", "zip_groups")
    model_inputs = fit.ModelInputs(**{name: inputs[name] for name in keys})
    sampler = {**params["sampler"], "method": method}
    record = fit.fit_model(
        model,
        model_inputs,
        outputs,
        sampler=sampler,
        engine=params["engine"],
        thresholds=params["thresholds"],
        fixed_sigma=params["fixed_sigma"],
        n_rep=params["predictive_rows"],
    )
    check_approximate(method, tmp_path)
    nuts = read_json(version_dir_of(workdir) / "zillow" / model / "heldout_metrics.json")
    heldout = record["heldout"]
    # the held-out error of the approximate posterior is close to NUTS's
    assert abs(heldout["mae"] - nuts["mae"]) < 0.1 * nuts["mae"], (heldout, nuts)
    assert record["diagnostics_passed"] == read_json(outputs["diagnostics"])["passed"]
