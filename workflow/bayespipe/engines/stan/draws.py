"""Draws as Stan's CSV files lay them out.

One column per scalar, ``name.i.j`` with the first
index varying fastest (column-major), as CmdStan writes and reads them.
"""

from __future__ import annotations

import numpy as np


def flat_names(name: str, shape) -> list[str]:
    """CSV column names of a variable of ``shape``, in Stan's order."""
    shape = tuple(int(s) for s in shape)
    if not shape:
        return [name]
    index = np.indices(shape).reshape(len(shape), -1, order="F").T + 1
    return [f"{name}." + ".".join(map(str, i)) for i in index]


def stan_csv_columns(draws: dict) -> tuple[list[str], list[np.ndarray]]:
    """Names and columns (chain after chain) of draws given as (chain, draw, *shape)."""
    names, columns = [], []
    for name, values in draws.items():
        values = np.asarray(values, dtype=float)
        chains, n_draws, *shape = values.shape
        samples = values.reshape(chains * n_draws, *shape)
        # Reverse the element axes so a C-order reshape lists the first index fastest.
        flat = samples.transpose(0, *range(len(shape), 0, -1)).reshape(len(samples), -1)
        names += flat_names(name, shape)
        columns += list(flat.T)
    return names, columns


def stan_columns_to_array(table, name: str, chains: int, n_draws: int) -> np.ndarray:
    """The (chain, draw, *shape) array of one variable from a table of Stan CSV columns."""
    if name in table.columns:
        return table[name].to_numpy().reshape(chains, n_draws)
    prefix = f"{name}."
    columns = [c for c in table.columns if c.startswith(prefix)]
    if not columns:
        raise KeyError(f"no column of '{name}' in the generated quantities")
    index = np.array([[int(i) for i in c[len(prefix) :].split(".")] for c in columns])
    shape = tuple(index.max(axis=0))
    out = np.empty((chains * n_draws, *shape))
    values = table[columns].to_numpy()
    for k, position in enumerate(index - 1):
        out[(slice(None), *position)] = values[:, k]
    return out.reshape(chains, n_draws, *shape)
