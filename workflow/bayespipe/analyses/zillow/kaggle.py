"""The Kaggle Zillow Prize 2016 files: their schema, and a loader that checks them against it.

``train_2016_v2.csv`` holds the transactions (small, read whole); ``properties_2016.csv`` holds
about 3 million parcels and is streamed in blocks, keeping only the parcels that have a transaction,
so that memory stays proportional to the transactions rather than to the properties file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from bayespipe.analyses.zillow.linescan import select_lines
from bayespipe.errors import InputError

TRANSACTIONS_FILE = "train_2016_v2.csv"
PROPERTIES_FILE = "properties_2016.csv"
TARGET = "logerror"
PARCEL = "parcelid"
DATE = "transactiondate"
ZIP = "regionidzip"


@dataclass(frozen=True)
class Column:
    """One column of a Kaggle file: ``kind`` is float (numeric, nullable), text or id (int64)."""

    name: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    required: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return {"id": pa.int64(), "float": pa.float64(), "text": pa.string()}[self.kind]

    @property
    def expectation(self) -> str:
        what = {"id": "whole numbers", "float": "numbers", "text": "text"}[self.kind]
        what += "" if self.required or self.kind == "id" else " or empty"
        if self.low is not None and self.high is not None:
            what += f" in [{self.low:g}, {self.high:g}]"
        return what


def checked(name, low=None, high=None, kind="float") -> Column:
    """A property column with its range (``kind`` float unless given), for the table below."""
    return Column(name, kind, low, high)


# Generous upper bounds: they catch unit or sign mistakes, not legitimate outliers.
BIG = 1e12
MAX_SQFT = 1e7  # square feet

TRANSACTION_COLUMNS = (
    Column(PARCEL, "id", 1, BIG),
    Column(TARGET, "float", -10, 10, required=True),
    Column(DATE, "text"),
)

# parcelid + the 57 property columns, in Kaggle's order.
PROPERTY_COLUMNS = (
    Column(PARCEL, "id", 1, BIG),
    checked("airconditioningtypeid", 1, 20),
    checked("architecturalstyletypeid", 1, 30),
    checked("basementsqft", 0, MAX_SQFT),
    checked("bathroomcnt", 0, 100),
    checked("bedroomcnt", 0, 100),
    checked("buildingclasstypeid", 1, 10),
    checked("buildingqualitytypeid", 1, 15),
    checked("calculatedbathnbr", 0, 100),
    checked("decktypeid", 1, 100),
    checked("finishedfloor1squarefeet", 0, MAX_SQFT),
    checked("calculatedfinishedsquarefeet", 0, MAX_SQFT),
    checked("finishedsquarefeet12", 0, MAX_SQFT),
    checked("finishedsquarefeet13", 0, MAX_SQFT),
    checked("finishedsquarefeet15", 0, MAX_SQFT),
    checked("finishedsquarefeet50", 0, MAX_SQFT),
    checked("finishedsquarefeet6", 0, MAX_SQFT),
    checked("fips", 1000, 99999),
    checked("fireplacecnt", 0, 100),
    checked("fullbathcnt", 0, 100),
    checked("garagecarcnt", 0, 100),
    checked("garagetotalsqft", 0, MAX_SQFT),
    checked("hashottuborspa", kind="text"),
    checked("heatingorsystemtypeid", 1, 30),
    checked("latitude", -90e6, 90e6),
    checked("longitude", -180e6, 180e6),
    checked("lotsizesquarefeet", 0, 1e10),
    checked("poolcnt", 0, 100),
    checked("poolsizesum", 0, MAX_SQFT),
    checked("pooltypeid10", 0, 100),
    checked("pooltypeid2", 0, 100),
    checked("pooltypeid7", 0, 100),
    checked("propertycountylandusecode", kind="text"),
    checked("propertylandusetypeid", 0, 1000),
    checked("propertyzoningdesc", kind="text"),
    checked("rawcensustractandblock", 0, BIG),
    checked("regionidcity", 0, BIG),
    checked("regionidcounty", 0, BIG),
    checked("regionidneighborhood", 0, BIG),
    checked(ZIP, 0, BIG),
    checked("roomcnt", 0, 1000),
    checked("storytypeid", 1, 100),
    checked("threequarterbathnbr", 0, 100),
    checked("typeconstructiontypeid", 1, 100),
    checked("unitcnt", 0, 1e5),
    checked("yardbuildingsqft17", 0, MAX_SQFT),
    checked("yardbuildingsqft26", 0, MAX_SQFT),
    checked("yearbuilt", 1700, 2100),
    checked("numberofstories", 0, 1000),
    checked("fireplaceflag", kind="text"),
    checked("structuretaxvaluedollarcnt", 0, BIG),
    checked("taxvaluedollarcnt", 0, BIG),
    checked("assessmentyear", 1900, 2100),
    checked("landtaxvaluedollarcnt", 0, BIG),
    checked("taxamount", 0, BIG),
    checked("taxdelinquencyflag", kind="text"),
    checked("taxdelinquencyyear", 0, 2100),
    checked("censustractandblock", -1, 1e15),
)
PROPERTY_NAMES = tuple(c.name for c in PROPERTY_COLUMNS)
NUMERIC_PROPERTIES = tuple(c.name for c in PROPERTY_COLUMNS[1:] if c.kind == "float")

# Never predictors: identifiers, codes and dates (plus the target and the parcel id).
NON_PREDICTORS = frozenset(
    {
        PARCEL,
        TARGET,
        DATE,
        "fips",
        "rawcensustractandblock",
        "censustractandblock",
        "assessmentyear",
        "taxdelinquencyyear",
    }
    | {c.name for c in PROPERTY_COLUMNS if c.name.startswith("regionid") or "typeid" in c.name}
)


def header(path: Path, columns: tuple[Column, ...]) -> list[str]:
    """The header row; raises InputError for a missing or empty file or missing columns."""
    more = ", ..." if len(columns) > 3 else ""
    what = f"a CSV with columns {', '.join(c.name for c in columns[:3])}{more}"
    if not path.is_file():
        raise InputError(path, f"file not found (expected {what})")
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            first = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as exc:  # found by tests/test_properties_loaders.py
        raise InputError(path, f"the header is not readable CSV text ({exc})") from None
    if not first:
        raise InputError(path, f"the file is empty (expected {what})")
    names = [name.strip() for name in first]
    missing = [c.name for c in columns if c.name not in names]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)} (expected the Kaggle columns)",
            column=missing[0],
        )
    return names


NULLS = ["", "NA", "NaN", "nan", "null"]


def _convert_options(columns: tuple[Column, ...], as_text: bool = False) -> pcsv.ConvertOptions:
    return pcsv.ConvertOptions(
        column_types={c.name: pa.string() if as_text else c.arrow_type for c in columns},
        include_columns=[c.name for c in columns],
        strings_can_be_null=True,
        null_values=NULLS,
    )


def _problems_error(path: Path, problems: list[tuple[str, int, str]]) -> InputError:
    """One error naming every bad column (its first bad row and value)."""
    column, row, message = problems[0]
    more = "".join(f"; also column '{c}', row {r}: {m}" for c, r, m in problems[1:])
    return InputError(path, message + more, column=column, row=row)


def _malformed(
    text: pa.Table, columns: tuple[Column, ...], rows: np.ndarray
) -> list[tuple[str, int, str]]:
    """Values that do not convert to their column's type (the table read as text)."""
    problems = []
    for column in columns:
        if column.kind == "text":
            continue
        raw = text.column(column.name).to_pandas()
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if column.kind == "id":
            bad |= values.notna() & (values % 1 != 0)
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            problems.append(
                (
                    column.name,
                    int(rows[first]),
                    f"expected {column.expectation}, got {raw.iloc[first]!r}",
                )
            )
    return problems


def _out_of_range(
    table: pa.Table, columns: tuple[Column, ...], rows: np.ndarray
) -> list[tuple[str, int, str]]:
    """Numeric values that are not finite or outside their column's bounds."""
    problems = []
    for column in columns:
        if column.low is None or column.kind == "text":
            continue
        values = table.column(column.name).to_numpy().astype(float)  # nulls become NaN
        valid = (
            table.column(column.name).is_valid().to_numpy() if table.num_rows else np.zeros(0, bool)
        )
        bad = valid & ~((values >= column.low) & (values <= column.high))  # NaN and inf fail too
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            problems.append(
                (
                    column.name,
                    int(rows[first]),
                    f"expected {column.expectation}, got {values[first]!r}",
                )
            )
    return problems


def _read_typed(
    path: Path, source, columns: tuple[Column, ...], rows: np.ndarray | None = None
) -> pa.Table:
    """Parse CSV (a path or bytes) with the schema's types and bounds; every bad column is reported.

    ``rows`` maps the parsed rows to the file's data rows (1-based); by default they are the same.
    """
    as_input = (lambda: pa.BufferReader(source)) if isinstance(source, bytes) else (lambda: source)
    try:
        table = pcsv.read_csv(as_input(), convert_options=_convert_options(columns))
        problems = []
    except pa.ArrowInvalid as exc:
        try:
            text = pcsv.read_csv(
                as_input(), convert_options=_convert_options(columns, as_text=True)
            )
        except pa.ArrowInvalid as parse_error:
            raise InputError(path, f"could not be parsed as CSV ({parse_error})") from exc
        rows = np.arange(1, text.num_rows + 1) if rows is None else rows
        problems = _malformed(text, columns, rows) or [("", 0, "")]
        if not problems[0][0]:
            raise InputError(path, f"could not be parsed as CSV ({exc})") from exc
    if not problems:
        rows = np.arange(1, table.num_rows + 1) if rows is None else rows
        problems = _out_of_range(table, columns, rows)
    if problems:
        raise _problems_error(path, problems)
    return table


def _require_values(path: Path, table: pa.Table, column: str, what: str) -> None:
    values = table.column(column)
    if values.null_count:
        bad = int(np.flatnonzero(~values.is_valid().to_numpy())[0])
        raise InputError(
            path, f"expected {what} in every row, got an empty value", column=column, row=bad + 1
        )


def read_transactions(path: str | Path) -> pd.DataFrame:
    """train_2016_v2.csv as a DataFrame (parcelid int64, logerror float64, transactiondate str)."""
    path = Path(path)
    header(path, TRANSACTION_COLUMNS)
    table = _read_typed(path, str(path), TRANSACTION_COLUMNS)
    if table.num_rows == 0:
        raise InputError(
            path, "the file has a header but no rows (expected one row per transaction)"
        )
    _require_values(path, table, PARCEL, "a parcel id")
    _require_values(path, table, TARGET, "a number")
    frame = table.to_pandas()
    dates = pd.to_datetime(frame[DATE], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        bad = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise InputError(
            path,
            f"expected a date YYYY-MM-DD, got {frame[DATE].iloc[bad]!r}",
            column=DATE,
            row=bad + 1,
        )
    return frame


@dataclass
class PropertyScan:
    """The properties of the wanted parcels, plus what the scan learned about the whole file."""

    table: pd.DataFrame
    n_rows: int


def _first_duplicate(path: Path, ids: np.ndarray) -> None:
    if np.all(ids[1:] > ids[:-1]):
        return  # ascending ids (as written by the synthetic twin) are unique without a sort
    ordered = np.sort(ids)
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if same.size:
        value = int(ordered[same[0]])
        rows = (np.flatnonzero(ids == value)[:2] + 1).tolist()
        raise InputError(
            path,
            f"expected each parcel id once, parcel {value} appears in rows {rows[0]} and {rows[1]}",
            column=PARCEL,
            row=rows[1],
        )


def scan_properties(path: str | Path, wanted: np.ndarray) -> PropertyScan:
    """Read the properties of the ``wanted`` parcels from properties_2016.csv, streaming the file.

    Memory stays proportional to the wanted rows (plus 8 bytes per parcel id, kept to check that ids
    are unique across the whole file). The wanted rows are checked in full against the schema.
    """
    path = Path(path)
    header(path, PROPERTY_COLUMNS)
    head, lines, rows, ids = select_lines(path, np.asarray(wanted, np.int64), id_column=PARCEL)
    if len(ids) == 0:
        raise InputError(path, "the file has a header but no rows (expected one row per parcel)")
    _first_duplicate(path, ids)
    if not len(rows):
        table = pa.Table.from_pylist(
            [], schema=pa.schema([(c.name, c.arrow_type) for c in PROPERTY_COLUMNS])
        )
    else:
        table = _read_typed(path, head + b"".join(lines), PROPERTY_COLUMNS, rows)
    return PropertyScan(table=table.to_pandas(), n_rows=len(ids))


def kaggle_files(folder: str | None, root: str | Path, check: bool = True) -> dict[str, str]:
    """The user's Kaggle files in ``zillow.kaggle_dir`` (relative paths from the repository root).

    With ``check``, a missing setting or file is reported before any job runs.
    """
    from bayespipe.errors import ConfigError

    if not folder:
        if check:
            raise ConfigError(
                "zillow.kaggle_dir: required when zillow.source is kaggle (expected the folder "
                f"holding {TRANSACTIONS_FILE} and {PROPERTIES_FILE})"
            )
        return {}
    base = Path(folder) if Path(folder).is_absolute() else Path(root) / folder
    files = {"transactions": base / TRANSACTIONS_FILE, "properties": base / PROPERTIES_FILE}
    for key, path in files.items():
        if check and not path.is_file():
            columns = TRANSACTION_COLUMNS if key == "transactions" else PROPERTY_COLUMNS
            header(path, columns)  # raises the file-not-found InputError
    return {key: str(path) for key, path in files.items()}
