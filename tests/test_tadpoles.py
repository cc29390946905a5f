"""Analysis C: the reed-frog model via the Stan engine (PyStan here), its metrics and figures."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.tadpoles import model as tadpoles
from bayespipe.analyses.tadpoles import reedfrogs
from bayespipe.config import load_config
from bayespipe.engines.stan.data import StanDataError
from bayespipe.engines.stan.diagnostics import DiagnosticsError
from bayespipe.engines.stan.outputs import fit_outputs
from bayespipe.engines.stan.pystan_engine import PyStanEngine
from conftest import FIT_GROUPS

REPO = Path(__file__).resolve().parents[1]
STAN_FILE = REPO / "stan" / "tadpoles.stan"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tadpoles")
    table_path = folder / "reedfrogs.parquet"
    reedfrogs.prepare(REPO / "data" / "reedfrogs.csv", table_path)
    stamp = folder / "tadpoles.compile.json"
    PyStanEngine().compile(STAN_FILE, stamp)
    return folder, table_path, stamp


@pytest.fixture(scope="module")
def default_fit(prepared):
    """The default configuration's fit (4 chains x 1000/1000), as the pipeline runs it."""
    folder, table_path, stamp = prepared
    config = load_config(REPO / "config" / "config.yaml")
    paths = fit_outputs(folder / "fit")
    metrics = tadpoles.fit(
        table_path,
        STAN_FILE,
        stamp,
        paths,
        folder / "fit" / "metrics.json",
        engine="pystan",
        sampler=config["tadpoles"]["sampler"],
        thresholds=config["diagnostics"],
    )
    return folder, paths, metrics


def test_stan_data_from_the_table(prepared):
    table = pd.read_parquet(prepared[1])
    data = tadpoles.stan_data(table)
    assert data["N"] == 48 and data["density"].sum() == table["density"].sum()
    table.loc[3, "surv"] = table.loc[3, "density"] + 1
    with pytest.raises(StanDataError, match=r"'surv\[4\]': expected values <= density"):
        tadpoles.stan_data(table, source="reedfrogs.parquet")


def test_default_fit_reproduces_the_published_posterior(default_fit):
    _, paths, metrics = default_fit
    assert 1.30 <= metrics["a_bar"]["mean"] <= 1.40
    assert 1.55 <= metrics["sigma"]["mean"] <= 1.70
    assert metrics["max_rhat"] <= 1.01
    assert metrics["divergences"] == 0
    assert metrics["min_ess_bulk"] >= 400
    assert metrics["gates_passed"] is True
    saved = json.loads(Path(paths["posterior"]).with_name("metrics.json").read_text())
    assert (
        saved["a_bar"] == metrics["a_bar"]
        and saved["chains"] == 4
        and saved["draws_per_chain"] == 1000
    )


def test_fit_outputs_hold_every_group(default_fit):
    import arviz as az

    _, paths, _ = default_fit
    idata = az.from_netcdf(paths["posterior"])
    assert FIT_GROUPS | {"prior", "prior_predictive"} <= set(idata.groups())
    assert list(idata.posterior["p"].coords["tank"].values) == list(range(1, 49))
    diagnostics = json.loads(Path(paths["diagnostics"]).read_text())
    assert diagnostics["passed"] is True and diagnostics["thresholds"]["max_rhat"] == 1.01
    summary = pd.read_csv(paths["summary"], index_col=0)
    assert {"a_bar", "sigma", "z[1]"} <= set(summary.index)
    assert "p[1]" not in summary.index  # gates and summary cover the sampled parameters


def test_figures_and_shrinkage(default_fit, prepared):
    folder, paths, _ = default_fit
    figures = {name: folder / "figures" / f"{name}.png" for name in tadpoles.FIGURES}
    by_density = tadpoles.figures(paths["posterior"], prepared[1], figures)
    for path in figures.values():
        assert path.stat().st_size > 10_000
    # smaller tanks carry less information and shrink more toward the population
    assert by_density[10] > by_density[25] > by_density[35]


def test_survival_figure_helpers(prepared):
    table = pd.read_parquet(prepared[1])
    assert tadpoles.complete_pooling(table) == pytest.approx(
        table["surv"].sum() / table["density"].sum()
    )
    assert tadpoles._density_breaks(table) == [16.5, 32.5]


def test_failing_gates_with_on_fail_fail_leave_no_outputs(prepared):
    folder, table_path, stamp = prepared
    paths = fit_outputs(folder / "short")
    tiny = {"chains": 2, "warmup": 30, "draws": 20, "prior_draws": 10}
    with pytest.raises(DiagnosticsError, match="min_ess_bulk"):
        tadpoles.fit(
            table_path,
            STAN_FILE,
            stamp,
            paths,
            folder / "short" / "metrics.json",
            engine="pystan",
            sampler=tiny,
            thresholds={"on_fail": "fail"},
        )
    assert not any(Path(p).exists() for p in [*paths.values(), folder / "short" / "metrics.json"])


def test_tfp_hmc_comparison_table(default_fit, prepared, tmp_path):
    pytest.importorskip("tensorflow_probability")
    from bayespipe.analyses.tadpoles import tfp_hmc as tadpoles_hmc

    folder, paths, _ = default_fit
    result = tadpoles_hmc.compare(
        prepared[1],
        folder / "fit" / "metrics.json",
        paths["posterior"],
        tmp_path / "cmp.csv",
        tmp_path / "hmc_summary.csv",
        tmp_path / "hmc_trace.png",
        hmc={"chains": 2, "warmup": 150, "draws": 100, "seed": 3},
        tfp_config={"device": "cpu"},
    )
    table = pd.read_csv(tmp_path / "cmp.csv")
    assert list(table["sampler"]) == ["NUTS (Stan)", "HMC (TFP, tutorial settings)"]
    assert {
        "min_ess_bulk",
        "median_ess_bulk",
        "max_rhat",
        "wall_seconds",
        "min_ess_bulk_per_second",
    } <= set(table)
    hmc = table.iloc[1]
    assert hmc["chains"] == 2 and hmc["draws_per_chain"] == 100 and 0 < hmc["acceptance_rate"] <= 1
    assert np.isfinite(hmc["a_bar_mean"]) and hmc["sigma_mean"] > 0
    assert (
        table.iloc[0]["min_ess_bulk"] > hmc["min_ess_bulk"]
    )  # NUTS mixes far better per draw here
    assert result["device"]["device"] == "cpu"
    assert (tmp_path / "hmc_trace.png").stat().st_size > 10_000
