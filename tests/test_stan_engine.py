"""The Stan engine with PyStan (runs here).

Compile once, fit outputs, errors before and during sampling.
"""

from pathlib import Path

import numpy as np
import pytest

from bayespipe import software
from bayespipe.engines.stan.base import StaleStampError, StanEngineError, stan_positions
from bayespipe.engines.stan.cmdstanpy_engine import CmdStanPyEngine
from bayespipe.engines.stan.engine import (
    get_engine,
    sampler_settings,
)
from bayespipe.engines.stan.pystan_engine import PyStanEngine
from bayespipe.engines.stan.summary import summary
from bayespipe.io import read_json, sha256_file
from conftest import FIT_GROUPS

REPO = Path(__file__).resolve().parents[1]
TADPOLES = REPO / "stan" / "tadpoles.stan"
DATA = {"N": 4, "density": [10, 10, 25, 35], "surv": [9, 4, 20, 7]}
SMALL = {"chains": 2, "warmup": 150, "draws": 100, "prior_draws": 50, "seed": 11}
KWARGS = {
    "posterior_predictive": "surv_rep",
    "log_likelihood": "log_lik",
    "observed_data": ["surv"],
    "dims": {
        "a": ["tank"],
        "p": ["tank"],
        "z": ["tank"],
        "surv_rep": ["tank"],
        "log_lik": ["tank"],
        "surv": ["tank"],
    },
}


@pytest.fixture(scope="module")
def stamp(tmp_path_factory):
    """Compile once for the module (httpstan's cache makes later compiles of it quick)."""
    path = tmp_path_factory.mktemp("stamp") / "tadpoles.compile.json"
    PyStanEngine().compile(TADPOLES, path)
    return path


def test_sampler_settings_fill_defaults_and_reject_unknown_keys():
    settings = sampler_settings({"chains": 3})
    assert settings["chains"] == 3 and settings["warmup"] == 1000 and settings["method"] == "nuts"
    with pytest.raises(ValueError, match="unknown sampler setting.*iterations"):
        sampler_settings({"iterations": 5})
    with pytest.raises(ValueError, match="method must be one of"):
        sampler_settings({"method": "hmc"})


def test_auto_picks_cmdstanpy_only_when_cmdstan_resolves(monkeypatch):
    monkeypatch.setattr(software, "cmdstan_info", lambda: None)
    assert isinstance(get_engine("auto"), PyStanEngine)
    monkeypatch.setattr(
        software, "cmdstan_info", lambda: {"path": "/opt/cmdstan", "version": "2.35.0"}
    )
    assert isinstance(get_engine("auto"), CmdStanPyEngine)
    assert isinstance(get_engine("pystan"), PyStanEngine)


def test_compile_writes_a_stamp(stamp):
    import httpstan.cache

    record = read_json(stamp)
    assert record["engine"] == "pystan"
    assert record["stan_sha256"] == sha256_file(TADPOLES)
    assert record["versions"]["stan"] == software.httpstan_stan_version()
    assert record["model_name"].startswith("models/")
    assert httpstan.cache.model_directory(record["model_name"]).is_dir()


def test_fit_reuses_the_compiled_model(stamp, monkeypatch):
    """Fitting must not compile: make any compilation fail and fit anyway."""
    import httpstan.models

    async def no_compiling(*args, **kwargs):
        raise AssertionError("fit() compiled the program again")

    monkeypatch.setattr(httpstan.models, "build_services_extension_module", no_compiling)
    idata, info = PyStanEngine().fit(TADPOLES, DATA, SMALL, stamp_path=stamp)
    assert info["model_name"] == read_json(stamp)["model_name"]
    assert idata.posterior.sizes["chain"] == 2


def test_fit_groups_and_shapes(stamp):
    engine = PyStanEngine()
    idata, info = engine.fit(TADPOLES, DATA, SMALL, stamp_path=stamp, idata_kwargs=KWARGS)
    assert set(idata.groups()) >= FIT_GROUPS
    assert idata.posterior["a"].shape == (2, 100, 4)
    assert idata.posterior_predictive["surv_rep"].shape == (2, 100, 4)
    assert list(idata.observed_data["surv"].values) == DATA["surv"]
    assert {"diverging", "tree_depth", "energy"} <= set(idata.sample_stats.data_vars)
    assert (
        info["engine"] == "pystan"
        and info["sampler"]["chains"] == 2
        and info["sampling_seconds"] > 0
    )

    prior, prior_info = engine.fit(
        TADPOLES, DATA, SMALL, stamp_path=stamp, prior_only=True, idata_kwargs=KWARGS
    )
    assert {"prior", "prior_predictive", "sample_stats_prior"} <= set(prior.groups())
    assert "posterior" not in prior.groups()
    assert prior.prior["a_bar"].shape == (2, 50)
    assert prior_info["prior_only"] is True
    # prior-only draws ignore the data: a_bar follows its Normal(0, 1.5) prior, not the data's ~1.3
    assert abs(float(prior.prior["a_bar"].std()) - 1.5) < 0.5


def test_same_seed_same_draws(stamp):
    first, _ = PyStanEngine().fit(TADPOLES, DATA, SMALL, stamp_path=stamp)
    second, _ = PyStanEngine().fit(TADPOLES, DATA, SMALL, stamp_path=stamp)
    other, _ = PyStanEngine().fit(TADPOLES, DATA, {**SMALL, "seed": 12}, stamp_path=stamp)
    np.testing.assert_array_equal(first.posterior["a_bar"].values, second.posterior["a_bar"].values)
    assert not np.array_equal(first.posterior["a_bar"].values, other.posterior["a_bar"].values)


def test_stan_positions_number_unnamed_dimensions_from_1_and_keep_named_coordinates():
    import arviz as az

    rng = np.random.default_rng(1)
    idata = az.from_dict(
        posterior={"theta": rng.normal(size=(2, 5, 3)), "a": rng.normal(size=(2, 5, 2))},
        prior={"theta": rng.normal(size=(1, 5, 3))},
        posterior_predictive={"y_rep": rng.normal(size=(2, 5, 4))},
        log_likelihood={"log_lik": rng.normal(size=(2, 5, 4))},
        observed_data={"y": np.zeros(4), "M": np.zeros((2, 3))},
        coords={"zip": [90210, 10001], "row": [0, 1, 2, 3]},
        dims={"a": ["zip"], "y": ["row"], "y_rep": ["row"], "log_lik": ["obs"]},
    )
    kwargs = {"coords": {"zip": [90210, 10001], "row": [0, 1, 2, 3]}}
    assert stan_positions(idata, kwargs) is idata
    assert idata.posterior["theta_dim_0"].values.tolist() == [1, 2, 3]
    assert idata.prior["theta_dim_0"].values.tolist() == [1, 2, 3]
    assert idata.log_likelihood["obs"].values.tolist() == [1, 2, 3, 4]  # named, no coordinates
    assert idata.observed_data["M_dim_1"].values.tolist() == [1, 2, 3]
    # coordinates the caller gave are names, kept as given; chains and draws are not elements
    assert idata.posterior["zip"].values.tolist() == [90210, 10001]
    assert idata.observed_data["row"].values.tolist() == [0, 1, 2, 3]
    assert idata.posterior["chain"].values.tolist() == [0, 1]
    stan_positions(idata, kwargs)  # renumbering again changes nothing
    assert idata.posterior["theta_dim_0"].values.tolist() == [1, 2, 3]
    assert summary(idata.posterior, ["theta", "a"]).index.tolist() == [
        "theta[1]",
        "theta[2]",
        "theta[3]",
        "a[90210]",
        "a[10001]",
    ]


def test_pystan_fits_name_elements_as_stan_does(stamp):
    """PyStan's default dimensions count from 1 in every group (CmdStan: test_stan_cmdstanpy)."""
    kwargs = {k: v for k, v in KWARGS.items() if k != "dims"}
    engine = PyStanEngine()
    idata, _ = engine.fit(TADPOLES, DATA, SMALL, stamp_path=stamp, idata_kwargs=kwargs)
    prior, _ = engine.fit(
        TADPOLES, DATA, SMALL, stamp_path=stamp, prior_only=True, idata_kwargs=kwargs
    )
    one_to_four = [1, 2, 3, 4]
    assert idata.posterior["a"].coords["a_dim_0"].values.tolist() == one_to_four
    assert idata.posterior_predictive["surv_rep_dim_0"].values.tolist() == one_to_four
    assert idata.log_likelihood["log_lik_dim_0"].values.tolist() == one_to_four
    assert idata.observed_data["surv_dim_0"].values.tolist() == one_to_four
    assert prior.prior["z_dim_0"].values.tolist() == one_to_four
    assert prior.prior_predictive["surv_rep_dim_0"].values.tolist() == one_to_four
    labels = summary(idata.posterior, ["a", "z"]).index.tolist()
    assert labels == [f"{name}[{k}]" for name in ("a", "z") for k in one_to_four]
    # names the caller gave a dimension without coordinates are positions too
    named, _ = engine.fit(TADPOLES, DATA, SMALL, stamp_path=stamp, idata_kwargs=KWARGS)
    assert named.posterior["tank"].values.tolist() == one_to_four


@pytest.mark.parametrize("method", ["pathfinder", "advi"])
def test_approximate_methods_need_cmdstanpy(stamp, method):
    with pytest.raises(StanEngineError, match=rf"'{method}' needs CmdStanPy.*method: nuts"):
        PyStanEngine().fit(TADPOLES, DATA, {**SMALL, "method": method}, stamp_path=stamp)


def test_stale_stamp_is_refused(stamp, tmp_path):
    changed = tmp_path / "tadpoles.stan"
    changed.write_text(TADPOLES.read_text() + "\n// edited\n")
    with pytest.raises(StaleStampError, match="changed since it was compiled"):
        PyStanEngine().fit(changed, DATA, SMALL, stamp_path=stamp)
    cmdstan_stamp = tmp_path / "cmdstan.json"
    cmdstan_stamp.write_text('{"engine": "cmdstanpy"}')
    with pytest.raises(StaleStampError, match="compiled for engine 'cmdstanpy'"):
        PyStanEngine().fit(TADPOLES, DATA, SMALL, stamp_path=cmdstan_stamp)


def test_failed_initialization_reports_stans_message(stamp):
    impossible = {
        **DATA,
        "surv": [11, 4, 20, 7],
    }  # 11 survivors of 10: log density is -inf everywhere
    with pytest.raises(
        StanEngineError, match=r"(?s)Initialization.*failed.*Successes variable\[1\] is 11"
    ):
        PyStanEngine().fit(TADPOLES, impossible, SMALL, stamp_path=stamp)


def test_compile_error_is_reported(tmp_path):
    broken = tmp_path / "broken.stan"
    broken.write_text("parameters { real mu; } model { mu ~ normal(0, ); }\n")
    with pytest.raises(StanEngineError, match="failed to compile"):
        PyStanEngine().compile(broken, tmp_path / "broken.json")
    assert not (tmp_path / "broken.json").exists()


def test_parallel_chains_sizes_the_process_pool_without_changing_draws(stamp):
    import httpstan.services_stub

    two, _ = PyStanEngine().fit(TADPOLES, DATA, {**SMALL, "parallel_chains": 2}, stamp_path=stamp)
    one, _ = PyStanEngine().fit(TADPOLES, DATA, {**SMALL, "parallel_chains": 1}, stamp_path=stamp)
    assert httpstan.services_stub.executor._max_workers == 1
    np.testing.assert_array_equal(one.posterior["sigma"].values, two.posterior["sigma"].values)


@pytest.mark.parametrize("module", ["cmdstanpy_engine", "pystan_engine"])
def test_an_engine_module_imports_first(module):
    """The engine modules import engine.py, which serves them; either order works."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import bayespipe.engines.stan.{module}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
