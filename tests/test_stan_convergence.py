"""The vectorised R-hat and ESS give ArviZ's values, element by element."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from bayespipe.engines.stan import convergence


def draws_of_every_kind(chains: int, n_draw: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    columns = [
        rng.normal(size=(chains, n_draw)),  # well mixed
        np.cumsum(rng.normal(size=(chains, n_draw)), axis=1),  # a random walk: poor mixing
        rng.normal(size=(chains, n_draw)) + np.arange(chains)[:, None],  # chains disagree
        np.ones((chains, n_draw)),  # constant
        rng.integers(0, 3, size=(chains, n_draw)).astype(float),  # ties
        np.repeat(rng.normal(size=(chains, n_draw // 10 + 1)), 10, axis=1)[:, :n_draw],  # sticky
        -rng.normal(size=(chains, n_draw)),  # anti-correlated below
    ]
    columns[-1][:, 1::2] = -columns[-1][:, 0::2][:, : n_draw // 2]
    more = rng.standard_t(3, size=(chains, n_draw, 20))
    return np.concatenate([np.stack(columns, axis=2), more], axis=2)


def arviz(draws: np.ndarray, **kwargs) -> np.ndarray:
    data = az.convert_to_dataset({"x": draws})
    if kwargs.get("method") == "rank":
        return az.rhat(data)["x"].to_numpy()
    return az.ess(data, **kwargs)["x"].to_numpy()


@pytest.mark.parametrize(("chains", "n_draw"), [(4, 1000), (2, 301), (1, 200), (3, 9)])
def test_same_values_as_arviz(chains, n_draw):
    draws = draws_of_every_kind(chains, n_draw)
    if chains > 1:
        np.testing.assert_allclose(
            convergence.rhat(draws), arviz(draws, method="rank"), rtol=1e-9, equal_nan=True
        )
    else:
        assert np.isnan(convergence.rhat(draws)).all()  # one chain: no R-hat (as ArviZ)
    np.testing.assert_allclose(
        convergence.ess_bulk(draws), arviz(draws, method="bulk"), rtol=1e-9, equal_nan=True
    )
    np.testing.assert_allclose(
        convergence.ess_tail(draws), arviz(draws, method="tail"), rtol=1e-9, equal_nan=True
    )


def test_nan_draws_give_nan():
    draws = draws_of_every_kind(2, 100)
    draws[0, 5, 2] = np.nan
    assert np.isnan(convergence.rhat(draws)[2]) and np.isnan(convergence.ess_bulk(draws)[2])
    assert np.isfinite(convergence.rhat(draws)[0])


@pytest.mark.parametrize(
    "estimator", [convergence.rhat, convergence.ess_bulk, convergence.ess_tail]
)
def test_blockwise_gives_the_whole_arrays_values(estimator):
    draws = draws_of_every_kind(4, 200)  # 27 elements, in blocks of 5 (the last one short)
    whole = estimator(draws)
    np.testing.assert_array_equal(convergence.blockwise(estimator, draws, block=5), whole)
