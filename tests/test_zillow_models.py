"""Zillow Stan models: data, held-out metrics, shrinkage and the programs under PyStan.

Zillow Stan models: data building, held-out metrics, shrinkage (fast, no Stan) and the Stan programs
themselves under PyStan (exact likelihood, posterior equality with the pointwise program, parameter
recovery on the synthetic truth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import logsumexp
from scipy.stats import norm

from bayespipe.analyses.zillow import fit, heldout, models, shrinkage
from bayespipe.engines.stan.data import StanDataError
from bayespipe.errors import InputError


def simulated_rows(n=600, n_groups=30, n_predictors=3, seed=3, sigma=0.15, sigma_zip=0.05):
    """Rows in the prepared-data layout (train.parquet) from a known random-intercepts model."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.arange(1, n_groups + 1), size=n, p=rng.dirichlet(np.full(n_groups, 0.7)))
    X = rng.normal(size=(n, n_predictors))
    a_zip = rng.normal(0, sigma_zip, n_groups)
    beta = np.array([0.03, -0.02, 0.015])[:n_predictors]
    y = 0.01 + X @ beta + a_zip[groups - 1] + rng.normal(0, sigma, n)
    names = [f"x{k}" for k in range(n_predictors)]
    frame = pd.DataFrame({"parcelid": np.arange(n, dtype=np.int64), "logerror": y})
    for k, name in enumerate(names):
        frame[name] = X[:, k]
    frame["regionidzip"] = groups + 96000
    frame["zip_index"] = groups.astype(np.int64)
    frame["zip_seen"] = True
    return frame, names


# --- data building -------------------------------------------------------------------------------


def test_sufficient_statistics_match_the_rows():
    frame, names = simulated_rows(n=200, n_groups=7)
    X, y, g = frame[names].to_numpy(), frame["logerror"].to_numpy(), frame["zip_index"].to_numpy()
    stats = models.sufficient_statistics(y, X, g, 7)
    np.testing.assert_allclose(stats["xx"], X.T @ X)
    np.testing.assert_allclose(stats["xy"], X.T @ y)
    assert stats["yy"] == pytest.approx(float(np.sum(y**2)))
    for group in range(1, 8):
        rows = g == group
        assert stats["n_group"][group - 1] == rows.sum()
        assert stats["y_group"][group - 1] == pytest.approx(y[rows].sum())
        np.testing.assert_allclose(stats["x_group"][group - 1], X[rows].sum(axis=0))


def test_random_intercepts_data_passes_its_spec_and_bad_data_names_the_field():
    frame, names = simulated_rows(n=100, n_groups=5)
    data = models.random_intercepts_data(frame, names, 5, n_rep=20)
    data["prior_only"] = 0
    models.check_data("random_intercepts", data, "train.parquet")
    bad = dict(data, y_group=np.where(np.arange(5) == 2, np.nan, data["y_group"]))
    with pytest.raises(StanDataError, match=r"train.parquet.*'y_group\[3\]'.*finite"):
        models.check_data("random_intercepts", bad, "train.parquet")
    with pytest.raises(StanDataError, match=r"'g_rep\[1\]'.*<= G = 5"):
        models.check_data("random_intercepts", dict(data, g_rep=np.full(20, 6)), "train.parquet")
    with pytest.raises(StanDataError, match=r"'x_group'.*shape"):
        models.check_data(
            "random_intercepts", dict(data, x_group=data["x_group"][:, :2]), "train.parquet"
        )


def test_read_table_and_groups_reject_bad_input(tmp_path):
    frame, names = simulated_rows(n=50, n_groups=5)
    frame.loc[7, "x1"] = np.inf
    path = tmp_path / "train.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError, match=r"train.parquet, row 7, column 'x1'.*finite"):
        models.read_table(path, ["logerror", *names])
    with pytest.raises(InputError, match=r"column 'zip_index'.*outside 1..4"):
        models.check_groups(frame, 4, path)
    with pytest.raises(InputError, match="column 'nope'"):
        models.read_table(path, ["nope"])


def test_missing_predictor_data_splits_rows_into_two_sets_of_sufficient_statistics():
    frame, names = simulated_rows(n=300, n_groups=10)
    missing = np.random.default_rng(0).random(300) < 0.2
    frame["x1_missing"] = missing
    frame.loc[missing, "x1"] = np.nan
    data, rows = models.missing_predictor_data(frame, names, "x1", 10, n_rep=50)
    models.check_data("missing_predictor", {**data, "prior_only": 0})
    assert data["N"] == (~missing).sum() and data["N_mis"] == missing.sum() == len(rows)
    assert data["m"] == 2 and np.all(data["X_mis"][:, 1] == 0)
    incomplete = frame[missing]
    y_mis = incomplete["logerror"].to_numpy()
    assert data["yy_mis"] == pytest.approx(float(y_mis @ y_mis))
    np.testing.assert_allclose(
        data["n_group_mis"], np.bincount(incomplete["zip_index"] - 1, minlength=10)
    )
    np.testing.assert_allclose(
        data["xy_mis"][[0, 2]], incomplete[["x0", "x2"]].to_numpy().T @ y_mis
    )
    observed = frame.loc[~missing, "x1"].to_numpy()
    assert data["x_obs_sum"] == pytest.approx(observed.sum()) and data["n_x_obs"] == len(observed)
    reference = missing_parameters_data(frame, names, "x1", 10, n_rep=50)
    assert np.all(np.diff(reference["g_mis"]) >= 0)  # sorted by zip for the CSR product
    np.testing.assert_array_equal(
        np.diff(reference["csr_u"]), np.bincount(reference["g_mis"] - 1, minlength=10)
    )
    assert "yy_mis" not in reference


def test_missing_table_must_flag_every_missing_value(tmp_path):
    frame, names = simulated_rows(n=60, n_groups=4)
    frame["x1_missing"] = False
    frame.loc[[3, 9], "x1_missing"] = True
    frame.loc[[3, 9, 20], "x1"] = np.nan  # row 20 is NaN but not flagged
    path = tmp_path / "missing.parquet"
    frame.to_parquet(path)
    with pytest.raises(
        InputError, match=r"missing.parquet, row 20, column 'x1'.*x1_missing is False"
    ):
        fit._read_missing_table(str(path), names, "x1", 4)
    frame.loc[20, "x1"] = 0.5
    frame.to_parquet(path)
    assert fit._read_missing_table(str(path), names, "x1", 4)["x1_missing"].sum() == 2


# --- held-out metrics ----------------------------------------------------------------------------


def _posterior(draws: dict, chains=2) -> xr.Dataset:
    variables = {}
    for name, values in draws.items():
        values = np.asarray(values)
        shaped = values.reshape(chains, values.shape[0] // chains, *values.shape[1:])
        dims = ["chain", "draw"] + [f"{name}_dim_{i}" for i in range(values.ndim - 1)]
        variables[name] = (dims, shaped)
    return xr.Dataset(variables)


def test_heldout_metrics_match_a_direct_computation_including_unseen_zips():
    rng = np.random.default_rng(5)
    S, G, K = 40, 4, 2
    draws = {
        "alpha": rng.normal(0, 0.01, S),
        "beta": rng.normal(0, 0.05, (S, K)),
        "sigma": rng.uniform(0.1, 0.2, S),
        "sigma_zip": rng.uniform(0.02, 0.06, S),
        "a_zip": rng.normal(0, 0.05, (S, G)),
    }
    posterior = _posterior(draws)
    validation = pd.DataFrame(
        {
            "logerror": rng.normal(0, 0.2, 9),
            "x0": rng.normal(size=9),
            "x1": rng.normal(size=9),
            "zip_index": [1, 2, 3, 4, 0, 1, 0, 2, 3],
        }
    )
    parsed = heldout.linear_draws(posterior, K)
    metrics, residual = heldout.heldout_metrics("m", parsed, validation, ["x0", "x1"])
    # direct: loop over rows and draws
    flat = {k: heldout.flat(posterior, k) for k in draws}
    lpd, prediction = [], []
    for _, row in validation.iterrows():
        g = int(row["zip_index"])
        mu = flat["alpha"] + flat["beta"] @ row[["x0", "x1"]].to_numpy(float)
        sd = flat["sigma"]
        if g > 0:
            mu = mu + flat["a_zip"][:, g - 1]
        else:
            sd = np.sqrt(flat["sigma"] ** 2 + flat["sigma_zip"] ** 2)
        prediction.append(mu.mean())
        lpd.append(logsumexp(norm.logpdf(row["logerror"], mu, sd)) - np.log(S))
    y = validation["logerror"].to_numpy()
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(y - prediction)))
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((y - prediction) ** 2)))
    assert metrics["mlpd"] == pytest.approx(np.mean(lpd))
    assert metrics["n_validation"] == 9 and metrics["n_unseen_zip"] == 2
    np.testing.assert_allclose(residual, y - np.array(prediction))
    # chunking does not change the answer
    small = heldout.predict(
        parsed,
        validation[["x0", "x1"]].to_numpy(),
        validation["zip_index"].to_numpy(),
        y,
        chunk_rows=2,
    )
    np.testing.assert_allclose(small[1], lpd)


def _normal_fit_draws(rng, S=200, n=20_000):
    """Posterior draws of a Normal random-intercepts fit with sd 0.16, and training-like rows."""
    draws = heldout.LinearDraws(
        intercept=rng.normal(0.01, 0.001, S),
        beta=rng.normal(0.03, 0.001, (S, 1)),
        sigma=rng.normal(0.16, 0.001, S),
        a_zip=rng.normal(0, 0.001, (S, 5)),
        sigma_zip=np.full(S, 0.04),
    )
    X = rng.normal(size=(n, 1))
    zips = rng.integers(1, 6, n)
    return draws, X, zips, 0.01 + 0.03 * X[:, 0]


def test_tail_quantiles_flag_heavy_tails_and_pass_normal_data(tmp_path):
    """Heavy-tailed data fall outside the Normal replicates' extreme quantiles.

    Observed Student-t data (sd 0.16) lie outside the Normal replicates' 0.1% / 99.9% intervals (and
    inside at the quartiles they are too narrow); data from the model itself stay inside.
    """
    from bayespipe.analyses.zillow import model_figures

    rng = np.random.default_rng(8)
    draws, X, zips, mean = _normal_fit_draws(rng)
    heavy = mean + 0.16 / np.sqrt(3) * rng.standard_t(3, len(X))
    tails = heldout.tail_quantiles(draws, X, zips, heavy, n_replicates=60, seed=1)
    by_p = {q["probability"]: q for q in tails["quantiles"]}
    assert tails["n_rows"] == len(X) and tails["n_replicates"] == 60
    assert {0.001, 0.999} <= set(tails["outside_replicated_90"])
    assert (
        by_p[0.999]["observed"] > by_p[0.999]["replicated_q95"]
        and by_p[0.999]["p_replicated_ge_observed"] < 0.05
    )
    assert by_p[0.001]["observed"] < by_p[0.001]["replicated_q05"]
    assert (
        by_p[0.75]["observed"] < by_p[0.75]["replicated_q05"]
    )  # peaked centre: quartiles too narrow
    assert tails["observed_max"] > 2 * tails["replicated_max_median"]
    normal = mean + rng.normal(0, 0.16, len(X)) + draws.a_zip[0, zips - 1]
    assert (
        len(
            heldout.tail_quantiles(draws, X, zips, normal, n_replicates=60, seed=1)[
                "outside_replicated_90"
            ]
        )
        <= 1
    )
    # same seed, same table
    assert heldout.tail_quantiles(draws, X, zips, heavy, n_replicates=60, seed=1) == tails
    path = tmp_path / "ppc.png"
    model_figures.plot_predictive_check(
        heavy[:200],
        rng.normal(0, 0.16, (50, 200)),
        path,
        title="t",
        label="posterior predictive",
        tails=tails,
    )
    assert path.stat().st_size > 10_000


def test_comparison_table_sorts_by_mae_and_rejects_incomplete_metrics(tmp_path):
    from bayespipe.io import write_json

    files = []
    for name, mae in (
        ("linear_regression", 0.09),
        ("random_intercepts", 0.085),
        ("network", 0.082),
    ):
        path = tmp_path / f"{name}.json"
        write_json(
            path, {"model": name, "mae": mae, "rmse": mae * 1.5, "mlpd": 0.5, "n_validation": 10}
        )
        files.append(path)
    table = heldout.write_comparison(files, tmp_path / "zillow_comparison.csv")
    assert table["model"].tolist() == ["network", "random_intercepts", "linear_regression"]
    assert pd.read_csv(tmp_path / "zillow_comparison.csv")["mae"].is_monotonic_increasing
    write_json(files[0], {"model": "x", "mae": 1.0})
    with pytest.raises(InputError, match="lack keys"):
        heldout.comparison_table(files)


# --- shrinkage -----------------------------------------------------------------------------------


def test_shrinkage_table_classes_and_the_closed_form_pooling(tmp_path):
    frame, _ = simulated_rows(n=900, n_groups=24, sigma_zip=0.03)
    n_groups = 24
    nopool = shrinkage.no_pooling_estimates(frame, n_groups)
    # partial pooling with known mu, sigma, sigma_zip: the exact Normal-Normal posterior mean
    mu, sigma, tau = 0.01, 0.15, 0.03
    n = nopool["n_train"].to_numpy()
    weight = n * tau**2 / (n * tau**2 + sigma**2)
    partial = mu + weight * (nopool["no_pooling"].fillna(mu).to_numpy() - mu)
    draws = np.repeat(partial[None, :], 10, axis=0) + np.random.default_rng(1).normal(
        0, 1e-6, (10, n_groups)
    )
    posterior = _posterior({"mu": np.full(10, mu), "zip_mean": draws})
    table, global_mean = shrinkage.shrinkage_table(frame, posterior, n_groups)
    assert global_mean == pytest.approx(mu)
    counts = table["size_class"].value_counts()
    assert (
        len(table) == (n > 0).sum() and counts.max() - counts.min() <= 1
    )  # thirds of the non-empty zips
    assert (
        table.groupby("size_class")["n_train"].max()["small"]
        <= table.groupby("size_class")["n_train"].min()["large"]
    )
    by_class = shrinkage.shrinkage_by_class(table).set_index("size_class")
    assert (
        by_class.loc["small", "median_shrinkage"]
        > by_class.loc["medium", "median_shrinkage"]
        > by_class.loc["large", "median_shrinkage"]
    )
    np.testing.assert_allclose(table["shrinkage"], 1 - weight[n > 0], atol=1e-3)
    shrinkage.plot_shrinkage(table, global_mean, tmp_path / "shrinkage.png")
    assert (tmp_path / "shrinkage.png").stat().st_size > 10_000


def missing_parameters_data(
    frame: pd.DataFrame, predictors: list[str], imputable: str, n_groups: int, *, n_rep: int
) -> dict:
    """Data of the reference program whose missing values are NUTS parameters.

    Data of the reference stan/reference/missing_predictor_parameters.stan, whose missing values are
    NUTS parameters: the missing rows' residuals are summed per zip through a CSR incidence matrix
    (rows sorted by zip).
    """
    full, _ = models.missing_predictor_data(frame, predictors, imputable, n_groups, n_rep=n_rep)
    data = {
        k: v
        for k, v in full.items()
        if not k.endswith("_mis") or k in ("N_mis", "y_mis", "X_mis", "g_mis")
    }
    counts = np.bincount(data["g_mis"] - 1, minlength=n_groups)
    data.update(
        csr_w=np.ones(data["N_mis"]),
        csr_v=np.arange(1, data["N_mis"] + 1),
        csr_u=np.concatenate([[1], 1 + np.cumsum(counts)]).astype(np.int64),
    )
    return data


@pytest.mark.parametrize("workers", [1, 2])
def test_heldout_predict_equals_the_direct_formula(workers):
    """The chunked, per-draw-sd scoring gives mean_s N(y | mu_s, sd_s) on the log scale.

    Unseen zips (index 0) are scored with the population sd; chunks scored on two threads give
    the same values.
    """
    import numpy as np
    from scipy.special import logsumexp
    from scipy.stats import norm

    from bayespipe.analyses.zillow import heldout

    rng = np.random.default_rng(3)
    S, N, K, G = 300, 257, 2, 5
    draws = heldout.LinearDraws(
        intercept=rng.normal(size=S),
        beta=rng.normal(size=(S, K)),
        sigma=rng.uniform(0.5, 1.5, size=S),
        a_zip=rng.normal(size=(S, G)),
        sigma_zip=rng.uniform(0.1, 0.5, size=S),
    )
    X, zips, y = rng.normal(size=(N, K)), rng.integers(0, G + 1, size=N), rng.normal(size=N)
    prediction, lpd = heldout.predict(draws, X, zips, y, chunk_rows=50, workers=workers)
    a = np.where(zips[:, None] > 0, draws.a_zip[:, np.maximum(zips, 1) - 1].T, 0.0)
    mean = draws.intercept[None, :] + X @ draws.beta.T + a
    pooled = np.sqrt(draws.sigma**2 + draws.sigma_zip**2)
    sd = np.where(zips[:, None] > 0, draws.sigma[None, :], pooled[None, :])
    expected = logsumexp(norm.logpdf(y[:, None], mean, sd), axis=1) - np.log(S)
    np.testing.assert_allclose(prediction, mean.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(lpd, expected, rtol=1e-10)
    assert (zips == 0).any() and (zips > 0).any()
