"""Bad reed-frog tables: each is refused with the row and column named, and nothing is written."""

from pathlib import Path

import pandas as pd
import pytest

from bayespipe.analyses.tadpoles import reedfrogs
from bayespipe.errors import InputError

REPO = Path(__file__).resolve().parents[1]
CSV = REPO / "data" / "reedfrogs.csv"


def original() -> pd.DataFrame:
    return pd.read_csv(CSV, dtype=str, keep_default_na=False)


def prepare(tmp_path, table: pd.DataFrame | None = None, text: str | None = None):
    source = tmp_path / "reedfrogs.csv"
    if text is not None:
        source.write_text(text)
    else:
        table.to_csv(source, index=False)
    destination = tmp_path / "out" / "reedfrogs.parquet"
    try:
        return reedfrogs.prepare(source, destination)
    finally:
        leftovers = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
        assert not leftovers or destination.exists(), f"partial outputs left: {leftovers}"


def edited(row: int, **values) -> pd.DataFrame:
    table = original()
    for column, value in values.items():
        table.loc[row - 1, column] = value
    return table


def test_the_shipped_table_is_valid(tmp_path):
    table = prepare(tmp_path, original())
    assert len(table) == 48 and list(table.columns) == [
        "tank",
        "density",
        "pred",
        "size",
        "surv",
        "propsurv",
    ]
    assert (tmp_path / "out" / "reedfrogs.parquet").exists()


@pytest.mark.parametrize(
    "row, values, column, expected",
    [
        (5, {"surv": "11", "propsurv": "1.1"}, "surv", r"surv=11 > density=10"),
        (7, {"surv": "-1"}, "surv", r"expected a count >= 0, got -1"),
        (9, {"density": "-10"}, "density", r"expected a count >= 0"),
        (3, {"surv": "7.5"}, "surv", r"expected a whole number, got '7.5'"),
        (12, {"density": "ten"}, "density", r"expected a whole number, got 'ten'"),
        (20, {"surv": ""}, "surv", r"expected a whole number, got ''"),
        (4, {"pred": "maybe"}, "pred", r"expected one of no, pred, got 'maybe'"),
        (30, {"size": "medium"}, "size", r"expected one of big, small, got 'medium'"),
        (2, {"propsurv": "0.5"}, "propsurv", r"expected propsurv = surv / density"),
        (6, {"density": "0", "surv": "0", "propsurv": "0"}, "density", r"density >= 1"),
    ],
)
def test_bad_values_name_row_and_column(tmp_path, row, values, column, expected):
    with pytest.raises(InputError, match=expected) as caught:
        prepare(tmp_path, edited(row, **values))
    error = caught.value
    assert (error.row, error.column) == (row, column)
    assert f"row {row}, column '{column}'" in str(error) and "reedfrogs.csv" in str(error)
    assert not (tmp_path / "out" / "reedfrogs.parquet").exists()


def test_missing_column(tmp_path):
    with pytest.raises(InputError, match=r"column 'surv'.*missing column\(s\) surv") as caught:
        prepare(tmp_path, original().drop(columns=["surv"]))
    assert caught.value.column == "surv"


def test_header_only_table(tmp_path):
    with pytest.raises(InputError, match="no rows"):
        prepare(tmp_path, text="density,pred,size,surv,propsurv\n")


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="the file is empty"):
        prepare(tmp_path, text="")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        reedfrogs.prepare(tmp_path / "nope.csv", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
