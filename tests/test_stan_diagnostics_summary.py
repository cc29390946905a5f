"""The convergence gates read R-hat and ESS from the fit's summary, computed once.

The same values as ArviZ's own az.rhat / az.ess over the posterior.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from bayespipe.engines.stan import diagnostics as gates
from bayespipe.engines.stan.outputs import summarize


def fake_fit(seed: int = 0):
    rng = np.random.default_rng(seed)
    chains, draws = 2, 200
    walk = np.cumsum(rng.normal(size=(chains, draws)), axis=1)  # poorly mixed: R-hat well above 1
    return az.from_dict(
        posterior={
            "alpha": rng.normal(size=(chains, draws)),
            "beta": rng.normal(size=(chains, draws, 3)),
            "slow": walk,
            "a_zip": rng.normal(size=(chains, draws, 4, 2)),
            "constant": np.ones((chains, draws)),
        },
        sample_stats={
            "diverging": np.zeros((chains, draws), dtype=bool),
            "tree_depth": np.full((chains, draws), 3),
            "energy": rng.normal(size=(chains, draws)),
        },
        coords={"predictor": ["a", "b", "c"]},
        dims={"beta": ["predictor"]},
    )


def assert_same_gates(got, expected):
    """Equal verdicts, variables and counts; values equal to 1e-9 (the summary is vectorised)."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys()
        for key in expected:
            assert_same_gates(got[key], expected[key])
    elif isinstance(expected, list):
        assert len(got) == len(expected)
        for item, wanted in zip(got, expected, strict=True):
            assert_same_gates(item, wanted)
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert got == pytest.approx(expected, rel=1e-9, nan_ok=True)
    else:
        assert got == expected


@pytest.mark.parametrize("var_names", [None, ["beta", "alpha"], ["a_zip"]])
def test_gates_from_the_summary_equal_arviz(var_names):
    idata = fake_fit()
    direct = gates.compute_diagnostics(idata, var_names=var_names)
    reused = gates.compute_diagnostics(
        idata, var_names=var_names, summary=summarize(idata, var_names)
    )
    assert_same_gates(reused, direct)
    if var_names is None:
        assert direct["max_rhat"]["variable"] == "slow"
        assert direct["checks"]["max_rhat"]["passed"] is False


def test_a_summary_of_other_variables_is_refused():
    idata = fake_fit()
    with pytest.raises(ValueError, match="summary has 1 rows, the posterior 3 elements"):
        gates.compute_diagnostics(idata, var_names=["beta"], summary=summarize(idata, ["alpha"]))


def test_variables_left_out_of_the_summary_are_still_gated(tmp_path):
    """summarised_elsewhere: not in summary.csv, but the gates over them are ArviZ's values."""
    import pandas as pd

    from bayespipe.engines.stan.outputs import FIT_FILES, save_fit

    idata = fake_fit()
    info = {"engine": "test", "sampler": {"max_treedepth": 10}}
    paths = {name: tmp_path / f for name, f in FIT_FILES.items()}
    diagnostics = save_fit(paths, idata, info, summarised_elsewhere=("slow", "a_zip"))
    summary = pd.read_csv(paths["summary"], index_col="variable")
    assert not any(v.startswith(("slow", "a_zip")) for v in summary.index)
    assert {"alpha", "beta[a]", "constant"} <= set(summary.index)
    full = gates.compute_diagnostics(idata)
    for key in ("max_rhat", "min_ess_bulk", "min_ess_tail"):
        assert diagnostics[key]["variable"] == full[key]["variable"]
        assert diagnostics[key]["value"] == pytest.approx(full[key]["value"], rel=1e-9)
    assert diagnostics["max_rhat"]["variable"] == "slow"
