"""The reed-frog table (Vonesh & Bolker 2005): loading and validation.

Rows are numbered as in the CSV's data rows (row 1 is the first line after the header).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.errors import InputError
from bayespipe.io import write_parquet

COLUMNS = ("density", "pred", "size", "surv", "propsurv")
COUNT_COLUMNS = ("density", "surv")
LEVELS = {"pred": ("no", "pred"), "size": ("big", "small")}
PROPSURV_TOLERANCE = 0.01


def load(path: str | Path) -> pd.DataFrame:
    """Read and validate the table; raises InputError naming the row, column and rule broken."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found (expected the reed-frog CSV)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(
            path, f"the file is empty (expected a header with columns {', '.join(COLUMNS)})"
        ) from None
    except UnicodeDecodeError as exc:  # found by tests/test_properties_loaders.py
        raise InputError(path, f"not UTF-8 text (expected a CSV file): {exc}") from None
    except pd.errors.ParserError as exc:
        raise InputError(path, f"could not be parsed as CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})",
            column=missing[0],
        )
    if table.empty:
        raise InputError(path, "the table has no rows (expected one row per tank)")
    return validate(table, path)


def _integers(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(table[column], errors="coerce")
    for index, (raw, value) in enumerate(zip(table[column], values, strict=True), start=1):
        if pd.isna(value) or not float(value).is_integer():
            raise InputError(
                path, f"expected a whole number, got {raw!r}", column=column, row=index
            )
        if value < 0:
            raise InputError(path, f"expected a count >= 0, got {raw}", column=column, row=index)
    return values.astype("int64")


def validate(table: pd.DataFrame, path: str | Path = "<table>") -> pd.DataFrame:
    path = Path(path)
    clean = pd.DataFrame({c: _integers(table, c, path) for c in COUNT_COLUMNS})
    for column, allowed in LEVELS.items():
        for index, value in enumerate(table[column], start=1):
            if value not in allowed:
                raise InputError(
                    path,
                    f"expected one of {', '.join(allowed)}, got {value!r}",
                    column=column,
                    row=index,
                )
        clean[column] = table[column].astype(str)
    for index, (surv, density) in enumerate(
        zip(clean["surv"], clean["density"], strict=True), start=1
    ):
        if density == 0:
            raise InputError(
                path, "expected density >= 1 (a tank needs tadpoles)", column="density", row=index
            )
        if surv > density:
            raise InputError(
                path,
                f"expected 0 <= surv <= density, got surv={surv} > density={density}",
                column="surv",
                row=index,
            )
    propsurv = pd.to_numeric(table["propsurv"], errors="coerce")
    expected = clean["surv"] / clean["density"]
    for index, (raw, got, want) in enumerate(
        zip(table["propsurv"], propsurv, expected, strict=True), start=1
    ):
        if pd.isna(got) or not np.isclose(got, want, atol=PROPSURV_TOLERANCE):
            raise InputError(
                path,
                f"expected propsurv = surv / density = {want:.3f}, got {raw!r}",
                column="propsurv",
                row=index,
            )
    clean["propsurv"] = propsurv.astype(float)
    clean.insert(0, "tank", np.arange(1, len(clean) + 1))
    return clean[["tank", *COLUMNS]]


def prepare(source: str | Path, destination: str | Path) -> pd.DataFrame:
    """Validate the CSV and write the prepared table (parquet) with a 1-based ``tank`` column."""
    table = load(source)
    write_parquet(table, destination)
    return table
