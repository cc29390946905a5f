"""The vectorised summary table is ArviZ's ``az.summary``, row for row and column for column."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

from bayespipe.engines.stan import summary
from test_stan_convergence import draws_of_every_kind


def posterior(chains: int, n_draw: int) -> az.InferenceData:
    draws = draws_of_every_kind(chains, n_draw)  # (chain, draw, 27): every kind of chain
    rng = np.random.default_rng(1)
    return az.from_dict(
        posterior={
            "mu": draws[..., 0],
            "a_zip": draws[..., 1:6],
            "beta": draws[..., 6:9],
            "table": draws[..., 9:27].reshape(chains, n_draw, 3, 6),
            "count": rng.poisson(3, size=(chains, n_draw)),  # integer draws
        },
        coords={"zip": [96001, 96002, 96005, 96010, 96100], "predictor": ["a", "b", "c"]},
        dims={"a_zip": ["zip"], "beta": ["predictor"]},
    )


@pytest.mark.parametrize(("chains", "n_draw"), [(4, 1000), (2, 301), (1, 200), (3, 9)])
def test_same_table_as_arviz(chains, n_draw):
    idata = posterior(chains, n_draw)
    expected = az.summary(idata, round_to="none")
    got = summary.summary(idata.posterior)
    assert list(got.index) == list(expected.index)  # labels: a_zip[96001], table[2, 5], ...
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected.astype(float), check_exact=False, rtol=1e-9)


def test_variable_subset_and_hdi_probability():
    idata = posterior(4, 500)
    expected = az.summary(idata, var_names=["beta", "mu"], hdi_prob=0.9, round_to="none")
    got = summary.summary(idata.posterior, ["beta", "mu"], hdi_prob=0.9)
    assert list(got.columns)[2:4] == ["hdi_5%", "hdi_95%"]
    pd.testing.assert_frame_equal(got, expected.astype(float), check_exact=False, rtol=1e-9)


def test_hdi_is_the_narrowest_interval():
    draws = np.random.default_rng(3).exponential(size=(2, 5000, 1))
    lower, upper = summary.hdi(draws, 0.9)
    assert lower[0] < 0.01  # an exponential's 90% HDI starts at its mode, 0
    inside = np.mean((draws >= lower[0]) & (draws <= upper[0]))
    assert inside == pytest.approx(0.9, abs=1e-3)


def test_wide_variables_are_summarised_in_blocks_with_the_same_values(monkeypatch):
    idata = posterior(4, 300)
    whole = summary.summary(idata.posterior)
    monkeypatch.setattr(summary.convergence, "BLOCK", 2)
    pd.testing.assert_frame_equal(summary.summary(idata.posterior), whole, rtol=1e-12)
