"""Rank of a true value among thinned posterior draws (Talts et al. 2018).

Thinning within each chain makes the draws nearly independent; the rank is the number of thinned
draws below the true value (ties, possible for discrete quantities, broken at random), so under a
calibrated program it is uniform on 0..L with L the number of thinned draws.
"""

from __future__ import annotations

import re

import numpy as np

_NAME = re.compile(r"^(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?$")


def parse_quantity(name: str) -> tuple[str, int | None]:
    """``beta[2]`` -> (``beta``, 2); ``sigma`` -> (``sigma``, None). Indices are 1-based."""
    match = _NAME.match(name)
    if not match or match["index"] == "0":
        raise ValueError(
            f"quantity {name!r}: expected a variable name, optionally with a 1-based "
            "index, e.g. sigma or beta[2]"
        )
    return match["var"], int(match["index"]) if match["index"] else None


def thinned_draws(posterior, name: str, thin: int) -> np.ndarray:
    """Draws of one scalar quantity of an ArviZ posterior group, every ``thin``-th per chain."""
    return _chain_draws(posterior, name)[:, ::thin].reshape(-1)


def _chain_draws(posterior, name: str) -> np.ndarray:
    """(chain, draw) array of one scalar quantity."""
    var, index = parse_quantity(name)
    if var not in posterior:
        raise KeyError(f"the posterior has no variable {var!r} (quantity {name})")
    values = np.asarray(posterior[var].values)  # (chain, draw, ...)
    if index is None:
        if values.ndim != 2:
            raise ValueError(f"{name}: {var} is not a scalar; give an index")
        chosen = values
    else:
        if values.ndim != 3 or not 1 <= index <= values.shape[2]:
            raise ValueError(f"{name}: index outside 1..{values.shape[-1]} of vector {var}")
        chosen = values[:, :, index - 1]
    return chosen


def rank(draws: np.ndarray, truth: float, rng) -> int:
    """Draws below ``truth``, plus a uniform share of the draws equal to it."""
    draws = np.asarray(draws)
    below = int((draws < truth).sum())
    ties = int((draws == truth).sum())
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def ranks(posterior, truth: dict, thin: int, rng) -> tuple[dict, int]:
    """Rank of every true value, and L (the number of thinned draws, the largest rank)."""
    result, size = {}, None
    for name, value in truth.items():
        draws = thinned_draws(posterior, name, thin)
        size = len(draws)
        result[name] = rank(draws, value, rng)
    return result, int(size or 0)


def min_ess(posterior, names) -> float:
    """Smallest bulk ESS (ArviZ) of the ranked quantities over the unthinned draws.

    Below the number of thinned draws, the thinned draws are autocorrelated and the ranks not
    uniform even for a correct program.
    """
    import arviz as az

    values = [float(az.ess(_chain_draws(posterior, name), method="bulk")) for name in names]
    return round(min(values), 1) if values else float("nan")
