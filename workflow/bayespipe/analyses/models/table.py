"""Read a user's table (CSV or Parquet) and the columns a model block names.

Errors name the file, the column and the row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.errors import InputError

SUFFIXES = (".csv", ".parquet")


def read_table(path: str | Path) -> pd.DataFrame:
    """The table at ``path`` (a .csv or .parquet file), rows in file order."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(path, f"expected a table ending in {' or '.join(SUFFIXES)}")
    if not path.is_file():
        raise InputError(path, "table not found")
    try:
        if path.suffix.lower() == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(path, f"not a readable table ({exc})") from exc
    if table.empty:
        raise InputError(path, "the table has no rows")
    table.columns = [str(c).strip() for c in table.columns]
    return table.reset_index(drop=True)


def column(table: pd.DataFrame, name: str, path, *, wanted_by: str) -> pd.Series:
    """One column; a missing one names the block entry that wants it and the columns there are."""
    if name not in table.columns:
        raise InputError(
            path,
            f"no such column (wanted by {wanted_by}; the table has {', '.join(table.columns)})",
            column=name,
        )
    return table[name]


def _first_row(mask) -> int:
    """1-based data row (the header is not a row) of the first true value."""
    return int(np.flatnonzero(np.asarray(mask))[0]) + 1


def labels(series: pd.Series, path, *, wanted_by: str) -> pd.Series:
    """A label column as text, refusing blanks (a missing label would make a group of its own)."""
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    if blank.any():
        raise InputError(
            path,
            f"blank label (wanted by {wanted_by}: every row needs a label)",
            column=series.name,
            row=_first_row(blank),
        )
    return text


def numbers(series: pd.Series, path, *, integer: bool, wanted_by: str) -> np.ndarray:
    """A numeric column as int64 or float64: no blanks, no text, whole numbers for an int."""
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna()
    if bad.any():
        row = _first_row(bad)
        raw = series.iloc[row - 1]
        what = "a missing value" if pd.isna(raw) else f"{raw!r}, not a number"
        raise InputError(path, f"{what} (wanted by {wanted_by})", column=series.name, row=row)
    floats = values.to_numpy(dtype=float)
    if not np.isfinite(floats).all():
        row = _first_row(~np.isfinite(floats))
        raise InputError(
            path,
            f"{floats[row - 1]} is not finite (wanted by {wanted_by})",
            column=series.name,
            row=row,
        )
    if not integer:
        return floats
    fractional = floats != np.round(floats)
    if fractional.any():
        row = _first_row(fractional)
        raise InputError(
            path,
            f"{floats[row - 1]} is not an integer, but {wanted_by} is declared int in the program",
            column=series.name,
            row=row,
        )
    return floats.astype(np.int64)
