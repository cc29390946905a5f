"""Rank-normalised split R-hat and bulk / tail ESS of many variables at once.

The same estimators as ArviZ's ``az.rhat`` (method "rank") and ``az.ess`` (methods "bulk" and
"tail"), following Vehtari et al. (2021), computed for every element of a wide variable in one
pass of array operations instead of one Python call per element: ArviZ takes about 1 ms per
element and estimator, so 5,000 imputed values cost it 20 s. Tests compare both on the same
draws (``tests/test_stan_convergence.py``).

Arrays are (chain, draw, n) with n elements; results are (n,), NaN where ArviZ gives NaN (any
NaN draw, too few chains or draws).
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024  # elements per pass of ``blockwise``: temporaries of 8 MB per 1,000 draws
BLOM = 3 / 8  # ArviZ's offset when back-transforming ranks to normal scores
TAIL_PROBABILITIES = (0.05, 0.95)


def _split_chains(draws: np.ndarray) -> np.ndarray:
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, -half:]], axis=0)


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """Rank within each row, 1-based, ties sharing their mean rank.

    As scipy's rankdata "average", row by row, without its per-row overhead. Tied values get
    their mean rank whatever their order in the sort, so the sort need not be stable; continuous
    draws have no ties, and their ranks are the sort positions.
    """
    order = np.argsort(rows, axis=1)
    ordered = np.take_along_axis(rows, order, axis=1)
    position = np.broadcast_to(np.arange(rows.shape[1]), rows.shape)
    ranks = np.empty(rows.shape)
    starts = np.ones(rows.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    if starts.all():
        np.put_along_axis(ranks, order, position + 1.0, axis=1)
        return ranks
    ends = np.ones(rows.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, position, rows.shape[1])[:, ::-1], axis=1)[:, ::-1]
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks


def _z_scale(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks of each element's draws over all chains."""
    from scipy.special import ndtri  # scipy.stats.norm.ppf, without its argument checks

    chains, n_draw, n = draws.shape
    rows = np.ascontiguousarray(draws.reshape(chains * n_draw, n).T)
    ranks = _average_ranks(rows)
    scores = ndtri((ranks - BLOM) / (rows.shape[1] - 2 * BLOM + 1))
    return scores.T.reshape(draws.shape)


def _rhat(draws: np.ndarray) -> np.ndarray:
    n_draw = draws.shape[1]
    chain_mean = draws.mean(axis=1)
    between = n_draw * np.var(chain_mean, axis=0, ddof=1)
    within = np.mean(np.var(draws, axis=1, ddof=1), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n_draw - 1) / n_draw)


def invalid(draws: np.ndarray, min_chains: int) -> np.ndarray:
    too_small = draws.shape[0] < min_chains or draws.shape[1] < 4
    return np.full(draws.shape[2], too_small) | np.isnan(draws).any(axis=(0, 1))


def z_split(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the split chains' ranks: what bulk R-hat and bulk ESS both measure."""
    return _z_scale(_split_chains(np.asarray(draws, dtype=float)))


def rhat(
    draws: np.ndarray, *, fold_at_median_of_all: bool = False, ranked: np.ndarray | None = None
) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat.

    The tail R-hat folds the draws at a median: ``az.rhat`` takes the split chains' median,
    ``az.summary`` that of all draws (``fold_at_median_of_all``); they differ for an odd number of
    draws, where splitting drops the middle one. ``ranked``: ``z_split(draws)``, when the caller
    has it already.
    """
    draws = np.asarray(draws, dtype=float)
    split = _split_chains(draws)
    bulk = _rhat(z_split(draws) if ranked is None else ranked)
    if fold_at_median_of_all:
        median = np.median(draws.reshape(-1, draws.shape[2]), axis=0)
        folded = _split_chains(np.abs(draws - median))
    else:
        folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    tail = _rhat(_z_scale(folded))
    value = np.where(tail > bulk, tail, bulk)  # Python's max(bulk, tail), NaN included
    value[invalid(draws, min_chains=2)] = np.nan
    return value


def _autocov(draws: np.ndarray) -> np.ndarray:
    from scipy.fftpack import next_fast_len

    n_draw = draws.shape[1]
    size = next_fast_len(2 * n_draw)
    # the transforms run along the last, contiguous axis: (chain, n, draw)
    centred = np.array(np.swapaxes(draws, 1, 2), order="C")  # a copy: centred in place below
    centred -= centred.mean(axis=2, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=2)
    power = spectrum.real**2 + spectrum.imag**2  # |F|^2: the autocovariance's transform
    acov = np.fft.irfft(power, n=size, axis=2)[:, :, :n_draw] / n_draw
    return np.swapaxes(acov, 1, 2)


def _ess(draws: np.ndarray) -> np.ndarray:
    """ESS of (chain, draw, n) draws: Geyer's initial positive and monotone sequences."""
    chains, n_draw, n = draws.shape
    total = chains * n_draw
    acov = _autocov(draws)
    mean_acov = acov.mean(axis=0)  # (lag, n)
    mean_var = mean_acov[0] * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if chains > 1:
        var_plus = var_plus + np.var(draws.mean(axis=1), axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var - mean_acov) / var_plus  # (lag, n)
    rho[0] = 1.0
    n_pairs = (n_draw - 1) // 2 + 1
    padded = np.zeros((2 * n_pairs, n))
    padded[: min(n_draw, 2 * n_pairs)] = rho[: 2 * n_pairs]
    pair_sums = padded[0::2] + padded[1::2]  # (pair, n)
    # Pairs k >= 1 are examined while 2k - 1 < n_draw - 3; the sequence stops at the first
    # pair (k = 0 included) whose sum is not positive, or at the first pair not examined.
    examined = np.arange(n_pairs) * 2 - 1 < n_draw - 3
    examined[0] = True
    stops = (pair_sums <= 0) & examined[:, None]
    first_stop = np.where(stops.any(axis=0), stops.argmax(axis=0), n_pairs)
    ran_out = np.argmin(examined) if not examined.all() else n_pairs
    last_examined = ran_out - 1  # a sequence that never stops keeps pairs below this one
    kept = np.where(first_stop < ran_out, first_stop, last_examined)  # pairs summed in full
    monotone = np.minimum.accumulate(pair_sums, axis=0)
    in_sum = np.arange(n_pairs)[:, None] < kept[None, :]
    columns = np.arange(n)
    boundary = padded[2 * kept, columns]  # the even lag after the last kept pair
    boundary_sum = pair_sums[np.minimum(kept, n_pairs - 1), columns]
    extra = np.where((boundary > 0) | (boundary_sum >= 0), boundary, 0.0)
    tau = -1.0 + 2.0 * np.where(in_sum, monotone, 0.0).sum(axis=0) + extra
    tau = np.maximum(tau, 1 / np.log10(total))
    ess = total / tau
    ess[np.isnan(rho[1])] = np.nan
    constant = (draws.max(axis=(0, 1)) - draws.min(axis=(0, 1))) < np.finfo(float).resolution
    ess[constant] = draws.shape[0] * draws.shape[1]
    return ess


def ess_mean(draws: np.ndarray) -> np.ndarray:
    """ESS of the mean: split chains, no rank normalisation (ArviZ's ``_ess_mean``)."""
    draws = np.asarray(draws, dtype=float)
    ess = _ess(_split_chains(draws))
    ess[invalid(draws, min_chains=1)] = np.nan
    return ess


def ess_bulk(draws: np.ndarray, ranked: np.ndarray | None = None) -> np.ndarray:
    """ESS of the rank-normalised split chains (``ranked``: ``z_split(draws)``, if at hand)."""
    draws = np.asarray(draws, dtype=float)
    ess = _ess(z_split(draws) if ranked is None else ranked)
    ess[invalid(draws, min_chains=1)] = np.nan
    return ess


def ess_tail(draws: np.ndarray) -> np.ndarray:
    """The smaller ESS of the indicators of the 5% and 95% quantiles."""
    draws = np.asarray(draws, dtype=float)
    flat = draws.reshape(-1, draws.shape[2])
    values = []
    for probability in TAIL_PROBABILITIES:
        cut = np.quantile(flat, probability, axis=0)
        values.append(_ess(_split_chains((draws <= cut).astype(float))))
    ess = np.where(values[1] < values[0], values[1], values[0])  # Python's min, NaN included
    ess[invalid(draws, min_chains=1)] = np.nan
    return ess


def blockwise(estimator, draws: np.ndarray, block: int | None = None) -> np.ndarray:
    """``estimator(draws)`` a block of elements at a time.

    The estimators hold several temporaries the size of their input (ranks, their order, normal
    scores): over 14,000 imputed values x 2,000 draws each is 220 MB, so a whole variable at
    once would need over 1 GB.
    """
    n, block = draws.shape[2], block or BLOCK
    if n <= block:
        return estimator(draws)
    return np.concatenate([estimator(draws[:, :, i : i + block]) for i in range(0, n, block)])
