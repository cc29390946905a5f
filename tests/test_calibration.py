"""Calibration analysis, without Stan: designs, simulators, ranks, uniformity and the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayespipe.analyses.calibration import batch, design, ranks, simulate, verdict
from bayespipe.errors import InputError


def _posterior(**variables) -> xr.Dataset:
    """An ArviZ-like posterior group: arrays of shape (chain, draw, ...)."""
    return xr.Dataset(
        {
            k: (("chain", "draw", *[f"{k}_{i}" for i in range(np.ndim(v) - 2)]), v)
            for k, v in variables.items()
        }
    )


# --- ranks ------------------------------------------------------------------------------------
def test_rank_counts_draws_below_the_truth():
    rng = np.random.default_rng(0)
    assert ranks.rank(np.array([0.1, 0.5, 0.9, 0.3]), 0.4, rng) == 2
    assert ranks.rank(np.array([0.1, 0.5]), -1.0, rng) == 0
    assert ranks.rank(np.array([0.1, 0.5]), 9.0, rng) == 2


def test_ties_are_broken_uniformly():
    rng = np.random.default_rng(1)
    draws = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    seen = [ranks.rank(draws, 1.0, rng) for _ in range(400)]
    assert set(seen) == {1, 2, 3, 4}
    assert abs(np.mean(seen) - 2.5) < 0.2


def test_thinning_is_per_chain_and_indices_are_one_based():
    values = np.arange(2 * 6 * 3, dtype=float).reshape(2, 6, 3)
    posterior = _posterior(beta=values, sigma=values[:, :, 0])
    thinned = ranks.thinned_draws(posterior, "beta[2]", thin=3)
    np.testing.assert_array_equal(thinned, values[:, ::3, 1].reshape(-1))
    assert len(ranks.thinned_draws(posterior, "sigma", 2)) == 6
    result, size = ranks.ranks(
        posterior, {"beta[3]": 1e9, "sigma": -1.0}, 3, np.random.default_rng(0)
    )
    assert result == {"beta[3]": 4, "sigma": 0} and size == 4


@pytest.mark.parametrize("name", ["beta[0]", "beta[4]", "sigma[1]", "beta", "2x", "nope"])
def test_bad_quantity_names_are_errors(name):
    posterior = _posterior(beta=np.zeros((1, 4, 3)), sigma=np.zeros((1, 4)))
    with pytest.raises((ValueError, KeyError)):
        ranks.thinned_draws(posterior, name, 1)


# --- uniformity and verdict ---------------------------------------------------------------------
def test_pit_values_and_eval_points_match_the_discrete_uniform():
    np.testing.assert_allclose(verdict.pit_values([0, 4, 9], 9), [0.1, 0.5, 1.0])
    points = verdict.eval_points(9)
    np.testing.assert_allclose(points, np.arange(1, 10) / 10)
    assert len(verdict.eval_points(1000)) == verdict.MAX_EVAL_POINTS
    with pytest.raises(ValueError, match="0..9"):
        verdict.pit_values([10], 9)


def test_bonferroni_band_probability():
    assert verdict.quantity_prob(0.95, 10) == pytest.approx(0.995)
    assert verdict.quantity_prob(0.9, 1) == pytest.approx(0.9)


def test_uniform_ranks_are_inside_the_band_and_skewed_ranks_are_not():
    rng = np.random.default_rng(3)
    points = verdict.eval_points(99)
    uniform = verdict.uniformity(verdict.pit_values(rng.integers(0, 100, 200), 99), points, 0.99)
    assert uniform["inside_band"] and uniform["max_excess"] == 0
    # an overconfident posterior: the truth often lies in the tails of the draws
    tails = np.concatenate([rng.integers(0, 10, 100), rng.integers(90, 100, 100)])
    skewed = verdict.uniformity(verdict.pit_values(tails, 99), points, 0.99)
    assert not skewed["inside_band"] and skewed["max_excess"] > 0


def _records(rank_lists: dict, draws=99, failed=0, first=0):
    n = len(next(iter(rank_lists.values())))
    ok = [
        {
            "replication": first + i,
            "status": "ok",
            "draws": draws,
            "seconds": 0.5,
            "divergences": 0,
            "ranks": {k: int(v[i]) for k, v in rank_lists.items()},
        }
        for i in range(n)
    ]
    bad = [
        {"replication": first + n + i, "status": "failed", "error": "Stan said\nno", "seconds": 0.1}
        for i in range(failed)
    ]
    return ok + bad


def test_verdict_passes_uniform_and_fails_shifted_ranks():
    rng = np.random.default_rng(4)
    good = {"a": rng.integers(0, 100, 100), "b": rng.integers(0, 100, 100)}
    result = verdict.program_verdict(_records(good), ci_prob=0.95, max_failed_fraction=0.05)
    assert result["verdict"] == "pass" and result["reasons"] == []
    assert result["quantity_ci_prob"] == pytest.approx(0.975)
    shifted = {**good, "b": rng.integers(40, 100, 100)}
    result = verdict.program_verdict(_records(shifted), ci_prob=0.95, max_failed_fraction=0.05)
    assert result["verdict"] == "fail" and "b" in result["reasons"][0]
    assert result["quantities"]["a"]["inside_band"]


def test_failed_fits_are_counted_and_too_many_fail_the_program():
    rng = np.random.default_rng(5)
    good = {"a": rng.integers(0, 100, 95)}
    few = verdict.program_verdict(_records(good, failed=5), ci_prob=0.95, max_failed_fraction=0.05)
    assert few["verdict"] == "pass" and few["failed_fits"] == 5 and few["completed"] == 95
    assert few["failed_errors"] == ["no"] * 5
    many = verdict.program_verdict(_records(good, failed=6), ci_prob=0.95, max_failed_fraction=0.05)
    assert many["verdict"] == "fail" and "6 of 101 fits failed" in many["reasons"][0]
    none = verdict.program_verdict(
        _records({"a": [1]}, failed=20), ci_prob=0.95, max_failed_fraction=1.0
    )
    assert none["verdict"] == "fail" and "only 1 completed" in none["reasons"][0]


def test_summary_writes_json_and_figures_and_checks_batches(tmp_path):
    rng = np.random.default_rng(6)
    records = _records({"a": rng.integers(0, 100, 20)}, failed=1)
    paths = []
    for number, part in enumerate((records[:10], records[10:])):
        path = tmp_path / f"{number}.json"
        path.write_text(
            json.dumps(
                {
                    "format": batch.BATCH_FORMAT,
                    "program": "tadpoles",
                    "engine": "pystan",
                    "stan_file": "stan/tadpoles.stan",
                    "seconds": 2.0,
                    "replications": part,
                }
            )
        )
        paths.append(path)
    settings = {"replications": 21, "ci_prob": 0.95, "max_failed_fraction": 0.1}
    figure = tmp_path / "tadpoles.png"
    result = verdict.summarize(paths, settings, tmp_path / "c.json", {"tadpoles": figure})
    written = json.loads((tmp_path / "c.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert written["tadpoles"]["failed_fits"] == 1 and written["tadpoles"]["seconds"] == 4.0
    assert figure.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="replications \\[21\\]"):
        verdict.summarize(paths, {**settings, "replications": 22}, tmp_path / "d.json", {})
    with pytest.raises(InputError, match="appears twice"):
        verdict.summarize([paths[0], paths[0]], settings, tmp_path / "d.json", {})
    assert not (tmp_path / "d.json").exists()


# --- two stages ----------------------------------------------------------------------------
STAGE_SETTINGS = {"replications": 100, "ci_prob": 0.95, "max_failed_fraction": 0.05}


def _stage(low: int, first: int, seed: int) -> list[dict]:
    """100 replications of one quantity, ranks uniform on low..99 (low > 0: miscalibrated)."""
    rng = np.random.default_rng(seed)
    return _records({"a": rng.integers(low, 100, 100)}, first=first)


def test_a_passing_screen_needs_no_confirmation():
    result = verdict.judge(_stage(0, 0, 1), STAGE_SETTINGS)
    assert (result["verdict"], result["screening"], result["confirmation"]) == (
        "pass",
        "pass",
        "not needed",
    )


def test_a_flagged_screen_waits_for_its_confirmation():
    result = verdict.judge(_stage(40, 0, 2), STAGE_SETTINGS)
    assert result["screening"] == "flagged" and verdict.needs_confirmation(result)
    final = verdict.judge(_stage(40, 0, 2), {**STAGE_SETTINGS, "confirm": False})
    assert final["verdict"] == "fail" and final["confirmation"] == "off"


def test_an_error_that_repeats_fails_and_a_chance_excursion_passes():
    repeated = verdict.judge(_stage(40, 0, 3) + _stage(40, 100, 4), STAGE_SETTINGS)
    assert repeated["verdict"] == "fail" and repeated["confirmation"] == "fail"
    assert repeated["reasons"][0].startswith("screening: ECDF outside")
    assert repeated["reasons"][-1].startswith("confirmation: ECDF outside")
    chance = verdict.judge(_stage(40, 0, 3) + _stage(0, 100, 5), STAGE_SETTINGS)
    assert chance["verdict"] == "pass" and chance["reasons"] == []
    assert chance["screening"] == "flagged" and chance["confirmation"] == "pass"
    assert "not confirmed on 100 independent replications" in chance["note"]
    # the screening evidence stays visible at the top level
    assert not chance["quantities"]["a"]["inside_band"]
    assert chance["confirmation_result"]["quantities"]["a"]["inside_band"]


def _write_batch(path, program, records):
    path.write_text(
        json.dumps(
            {
                "format": batch.BATCH_FORMAT,
                "program": program,
                "engine": "pystan",
                "stan_file": f"stan/{program}.stan",
                "seconds": 1.0,
                "replications": records,
            }
        )
    )
    return path


def test_screen_lists_the_flagged_programs_and_summary_needs_their_confirmation(tmp_path):
    paths = [
        _write_batch(tmp_path / "t0.json", "tadpoles", _stage(0, 0, 6)),
        _write_batch(tmp_path / "l0.json", "linear_regression", _stage(40, 0, 7)),
    ]
    screened = verdict.screen(paths, STAGE_SETTINGS, tmp_path / "screen.json")
    assert screened["tadpoles"] == {"screening": "pass", "reasons": [], "confirm": False}
    assert screened["linear_regression"]["confirm"]
    assert verdict.to_confirm(tmp_path / "screen.json") == ["linear_regression"]
    with pytest.raises(ValueError, match="linear_regression: flagged in screening"):
        verdict.summarize(paths, STAGE_SETTINGS, tmp_path / "c.json", {})
    assert not (tmp_path / "c.json").exists()
    confirmation = _write_batch(tmp_path / "l1.json", "linear_regression", _stage(0, 100, 8))
    figure = tmp_path / "linear_regression.png"
    result = verdict.summarize(
        [*paths, confirmation], STAGE_SETTINGS, tmp_path / "c.json", {"linear_regression": figure}
    )
    assert result["linear_regression"]["verdict"] == "pass"
    assert result["linear_regression"]["seconds"] == 2.0  # both stages' batches
    assert figure.read_bytes()[:4] == b"\x89PNG"
    half = _write_batch(tmp_path / "l2.json", "linear_regression", _stage(0, 100, 8)[:50])
    with pytest.raises(ValueError, match="replications \\[150"):
        verdict.load_batches([*paths, half], 100)


# --- batches ---------------------------------------------------------------------------------
def test_batches_cover_every_replication_once():
    count = batch.batch_count(10, 4)
    numbers = [r for b in range(count) for r in batch.batch_replications(b, 10, 4)]
    assert numbers == list(range(10)) and count == 3
    confirmation = batch.confirmation_batches(10, 4)
    assert list(confirmation) == [3, 4, 5]
    numbers = [r for b in confirmation for r in batch.batch_replications(b, 10, 4)]
    assert numbers == list(range(10, 20))
    with pytest.raises(ValueError):
        batch.batch_replications(6, 10, 4)


def test_replication_seeds_do_not_depend_on_the_batch_layout():
    first = batch.replication_rng(1, "tadpoles", 7).normal(size=3)
    again = batch.replication_rng(1, "tadpoles", 7).normal(size=3)
    other = batch.replication_rng(1, "intercepts_only", 7).normal(size=3)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


# --- designs ---------------------------------------------------------------------------------
@pytest.fixture
def zillow_tables(tmp_path):
    rng = np.random.default_rng(7)
    groups = np.repeat([1, 2, 3], [20, 5, 1])
    frame = pd.DataFrame(
        {
            "logerror": rng.normal(size=26),
            "x1": rng.normal(size=26),
            "x2": rng.normal(size=26),
            "zip_index": groups,
        }
    )
    frame["x2_missing"] = np.arange(26) % 4 == 0
    frame.loc[frame["x2_missing"], "x2"] = np.nan
    frame.to_parquet(tmp_path / "missing.parquet")
    frame[~frame["x2_missing"]].drop(columns="x2_missing").to_parquet(tmp_path / "train.parquet")
    (tmp_path / "predictors.json").write_text(
        json.dumps({"predictors": ["x1", "x2"], "n_groups": 4, "imputable_predictor": "x2"})
    )
    return {key: tmp_path / f"{key}.parquet" for key in ("train", "missing")} | {
        "predictors": tmp_path / "predictors.json"
    }


def test_zillow_designs_scale_every_group(zillow_tables, tmp_path):
    inputs = design.design_inputs("random_intercepts", "unused", zillow_tables)
    made = design.make_design("random_intercepts", inputs, 0.25, tmp_path / "d.json")
    sizes = np.bincount(made["group"], minlength=5)[1:]
    complete = np.bincount(pd.read_parquet(zillow_tables["train"])["zip_index"], minlength=5)[1:]
    np.testing.assert_array_equal(sizes, [int(np.ceil(n * 0.25)) if n else 0 for n in complete])
    assert np.asarray(made["X"]).shape == (len(made["group"]), 2)
    assert design.read_design(tmp_path / "d.json") == made
    inputs = design.design_inputs("missing_predictor", "unused", zillow_tables)
    missing = design.make_design("missing_predictor", inputs, 0.5, tmp_path / "m.json")
    assert missing["imputable"] == 2 and any(missing["missing"]) and not all(missing["missing"])
    assert np.isfinite(missing["X"]).all()


def test_design_errors_name_the_file_and_column(zillow_tables, tmp_path):
    pd.read_parquet(zillow_tables["train"]).drop(columns="zip_index").to_parquet(tmp_path / "t.pq")
    inputs = {"table": tmp_path / "t.pq", "predictors": zillow_tables["predictors"]}
    with pytest.raises(InputError, match="t.pq.*zip_index"):
        design.make_design("linear_regression", inputs, 0.5, tmp_path / "x.json")
    with pytest.raises(ValueError, match="calibration.scale"):
        design.make_design("linear_regression", inputs, 1.5, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_tadpoles_design_scales_tank_sizes(tmp_path):
    pd.DataFrame({"density": [10, 25, 35]}).to_parquet(tmp_path / "frogs.parquet")
    made = design.make_design(
        "tadpoles", {"table": tmp_path / "frogs.parquet"}, 0.1, tmp_path / "d.json"
    )
    assert made["density"] == [1, 3, 4]


def test_tracked_indices_pick_small_median_large():
    assert design.tracked_indices([5, 1, 9, 3, 7]) == [1, 2, 3]
    assert design.tracked_indices([4]) == [1]
    assert design.tracked_indices([]) == []


# --- simulators ------------------------------------------------------------------------------
def _zillow_design(program, rng, rows=40, groups=6):
    made = {
        "program": program,
        "n_groups": groups,
        "scale": 1.0,
        "group": list(rng.integers(1, groups + 1, rows)),
        "X": rng.normal(size=(rows, 3)),
    }
    if program == "missing_predictor":
        made.update(imputable=2, missing=list(np.arange(rows) % 5 == 0))
    return made


def test_random_intercepts_sufficient_statistics_match_the_rows():
    rng = np.random.default_rng(8)
    made = _zillow_design("random_intercepts", rng)
    data, truth = simulate.simulate("random_intercepts", made, np.random.default_rng(9))
    assert set(truth) >= {"alpha", "beta[1]", "beta[3]", "sigma", "sigma_zip"}
    assert any(k.startswith("a_zip[") for k in truth)
    X, groups = np.asarray(made["X"]), np.asarray(made["group"])
    assert data["N"] == 40 and data["G"] == 6 and data["n_group"].sum() == 40
    np.testing.assert_allclose(data["xx"], X.T @ X)
    np.testing.assert_allclose(data["x_group"][groups[0] - 1], X[groups == groups[0]].sum(axis=0))
    # y is recoverable: the per-group sums add up to the total
    assert data["y_group"].sum() == pytest.approx(data["y_sum"])


def test_missing_predictor_hides_the_imputable_column():
    rng = np.random.default_rng(10)
    made = _zillow_design("missing_predictor", rng)
    data, truth = simulate.simulate("missing_predictor", made, np.random.default_rng(11))
    assert data["N_mis"] == 8 and data["N"] == 32 and data["m"] == 2
    assert (data["X_mis"][:, 1] == 0).all()
    assert data["n_x_obs"] == 32 and np.isfinite(data["x_obs_ss"])
    assert {"x_mis[1]", "x_mis[8]", "nu", "sigma_N"} <= set(truth)


def test_simulated_values_follow_the_priors():
    """Across many draws the prior's moments come back (half-normal(0, 1): mean sqrt(2/pi))."""
    rng = np.random.default_rng(12)
    made = _zillow_design("intercepts_only", rng)
    truths = [simulate.simulate("intercepts_only", made, rng)[1] for _ in range(3000)]
    mu = np.array([t["mu"] for t in truths])
    sigma_zip = np.array([t["sigma_zip"] for t in truths])
    assert abs(mu.mean()) < 0.06 and abs(mu.std() - 1) < 0.05
    assert abs(sigma_zip.mean() - np.sqrt(2 / np.pi)) < 0.04 and (sigma_zip > 0).all()
    frogs = [
        simulate.simulate("tadpoles", {"program": "tadpoles", "density": [10] * 4}, rng)[1]
        for _ in range(3000)
    ]
    assert abs(np.std([t["a_bar"] for t in frogs]) - 1.5) < 0.07
    assert abs(np.mean([t["sigma"] for t in frogs]) - 1.0) < 0.06


def test_simulate_refuses_another_programs_design():
    with pytest.raises(ValueError, match="design of 'tadpoles'"):
        simulate.simulate("intercepts_only", {"program": "tadpoles"}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown program"):
        simulate.simulate("nope", {}, np.random.default_rng(0))


def test_min_ess_is_low_for_autocorrelated_draws():
    rng = np.random.default_rng(13)
    independent = rng.normal(size=(1, 400))
    walk = np.cumsum(rng.normal(size=(1, 400)), axis=1)
    posterior = _posterior(a=independent, b=walk)
    assert ranks.min_ess(posterior, ["a"]) > 200
    assert ranks.min_ess(posterior, ["a", "b"]) < 50


def test_a_models_block_is_simulated_from_its_own_prior_predictive_run(tmp_path):
    """A models: block is calibrated with no simulator written.

    Replication r takes the r-th stored joint draw of its parameters and its y_rep from the
    block's prior run.
    """
    import arviz as az

    from bayespipe.analyses.calibration.design import is_model, make_design, model_program
    from bayespipe.analyses.calibration.simulate import simulate
    from bayespipe.analyses.models.prepare import prepare

    root = Path(__file__).parents[1]
    block = {
        "program": "stan/eight_schools.stan",
        "data": "data/eight_schools.csv",
        "stan_data": {"J": "rows", "y": {"column": "effect"}, "sigma": {"column": "stderr"}},
    }
    prepare(
        "eight_schools",
        block,
        root / block["data"],
        root / block["program"],
        tmp_path / "data.json",
        tmp_path / "card.json",
    )
    rng = np.random.default_rng(0)
    chains, draws = 2, 10
    mu, tau = rng.normal(size=(chains, draws)), rng.exponential(size=(chains, draws))
    theta_tilde = rng.normal(size=(chains, draws, 8))
    y_rep = rng.normal(size=(chains, draws, 8)) * 10
    az.from_dict(
        posterior={"mu": mu},
        prior={"mu": mu, "tau": tau, "theta_tilde": theta_tilde},
        prior_predictive={"y_rep": y_rep},
    ).to_netcdf(str(tmp_path / "fit.nc"))
    program = model_program("eight_schools")
    assert is_model(program) and not is_model("tadpoles")
    inputs = {"stan_data": tmp_path / "data.json", "posterior": tmp_path / "fit.nc"}
    design = make_design(program, inputs, 1.0, tmp_path / "design.json", replications=5)
    assert len(design["parameters"]["mu"]) == 10  # screening and confirmation draws
    for replication, flat in ((0, 0), (9, 19)):  # evenly spaced over both chains
        data, truth = simulate(program, design, np.random.default_rng(1), replication)
        chain, draw = divmod(flat, draws)
        np.testing.assert_allclose(data["y"], y_rep[chain, draw])
        np.testing.assert_allclose(data["sigma"], [15, 10, 16, 11, 9, 11, 10, 18])
        assert data["J"] == 8 and truth["mu"] == pytest.approx(mu[chain, draw])
        assert truth["theta_tilde[1]"] == pytest.approx(theta_tilde[chain, draw, 0])
        assert set(truth) == {"mu", "tau", "theta_tilde[1]", "theta_tilde[5]", "theta_tilde[8]"}
    with pytest.raises(InputError, match="raise prior_draws"):
        make_design(program, inputs, 1.0, tmp_path / "d2.json", replications=11)
