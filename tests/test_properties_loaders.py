"""Property-based tests (Hypothesis) of every loader of user input.

The reed-frog table, the Kaggle files, the MNIST .npz and the config. Each generated input either
loads or raises the project's own error (InputError, ConfigError) naming the file; an error about a
value names its column and row too. Any other exception (pandas, NumPy, pyarrow, YAML) fails the
test.

Example counts stay small for CI (``EXAMPLES`` per test; HYPOTHESIS_EXAMPLES overrides them).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bayespipe.analyses.mnist import data as mnist_data
from bayespipe.analyses.tadpoles import reedfrogs
from bayespipe.analyses.zillow import kaggle
from bayespipe.config import load_config
from bayespipe.errors import ConfigError, InputError
from fixtures.own_models import TRAPS, TRAPS_STAN_DATA

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every CI run; raise HYPOTHESIS_EXAMPLES to explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _file(suffix: str, content: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bayespipe-fuzz-"))
    path = folder / f"input{suffix}"
    path.write_bytes(content)
    return path


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _names_file_column_row(error: InputError, path: Path) -> None:
    event("refused with InputError")
    assert error.path == str(path), error
    assert str(path) in str(error)
    if error.row is not None:
        assert error.column is not None, f"a row without its column: {error}"


# -- cells: mostly plausible values, sometimes anything -----------------------------------------
NUMBERS = st.one_of(
    st.integers(-5, 60).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "NA", "nan", "1e400", "-0", "0x10", "1_000", "١٢", "3.0", "1,5"]),
)
ANY_TEXT = st.text(max_size=8)
CELL = st.one_of(NUMBERS, NUMBERS, ANY_TEXT)


# -- the reed-frog table -------------------------------------------------------------------------
@st.composite
def _valid_reedfrog_row(draw) -> list[str]:
    density = draw(st.integers(1, 40))
    surv = draw(st.integers(0, density))
    pred, size = draw(st.sampled_from(["no", "pred"])), draw(st.sampled_from(["big", "small"]))
    return [str(density), pred, size, str(surv), f"{surv / density:.3f}"]


FUZZY_REEDFROG_ROW = st.tuples(
    st.one_of(st.integers(-1, 40).map(str), CELL),
    st.sampled_from(["no", "pred", "Pred", ""]),
    st.sampled_from(["big", "small", "medium"]),
    st.one_of(st.integers(-2, 45).map(str), CELL),
    CELL,
).map(list)


def _reedfrog_row() -> st.SearchStrategy[list[str]]:
    return st.one_of(_valid_reedfrog_row(), _valid_reedfrog_row(), FUZZY_REEDFROG_ROW)


REEDFROG_HEADERS = st.one_of(
    st.just(list(reedfrogs.COLUMNS)),
    st.permutations(list(reedfrogs.COLUMNS)).map(list),
    st.lists(st.sampled_from([*reedfrogs.COLUMNS, "tank", "x"]), max_size=6),
)


@FUZZ
@given(header=REEDFROG_HEADERS, rows=st.lists(_reedfrog_row(), max_size=6))
def test_reedfrog_table_loads_or_names_file_column_row(header, rows):
    order = {name: i for i, name in enumerate(("density", "pred", "size", "surv", "propsurv"))}
    cells = [[row[order[name]] if name in order else "1" for name in header] for row in rows]
    path = _file(".csv", _csv(header, cells))
    try:
        table = reedfrogs.load(path)
    except InputError as error:
        _names_file_column_row(error, path)
        return
    event("loaded")
    assert list(table.columns) == ["tank", *reedfrogs.COLUMNS]
    assert ((table["surv"] >= 0) & (table["surv"] <= table["density"])).all()


@FUZZ
@given(content=st.binary(max_size=200))
def test_reedfrog_any_bytes_load_or_name_the_file(content):
    path = _file(".csv", content)
    try:
        reedfrogs.load(path)
    except InputError as error:
        _names_file_column_row(error, path)


# -- the Kaggle files ----------------------------------------------------------------------------
TRANSACTION_HEADER = [c.name for c in kaggle.TRANSACTION_COLUMNS]
DATES = st.one_of(st.dates().map(str), ANY_TEXT, st.just("2016-02-30"))


@FUZZ
@given(
    rows=st.lists(
        st.one_of(
            st.tuples(
                st.integers(1, 10**9).map(str),
                st.floats(-5, 5).map(repr),
                st.dates().map(str),
            ).map(list),
            st.tuples(st.one_of(st.integers(-3, 10**12).map(str), CELL), CELL, DATES).map(list),
        ),
        max_size=4,
    ),
    drop=st.sampled_from([None, *TRANSACTION_HEADER]),
)
def test_kaggle_transactions_load_or_name_file_column_row(rows, drop):
    header = [name for name in TRANSACTION_HEADER if name != drop]
    keep = [TRANSACTION_HEADER.index(name) for name in header]
    path = _file(".csv", _csv(header, [[row[i] for i in keep] for row in rows]))
    try:
        frame = kaggle.read_transactions(path)
    except InputError as error:
        _names_file_column_row(error, path)
        return
    event("loaded")
    assert len(frame) == len(rows) and frame[kaggle.PARCEL].notna().all()


PROPERTY_HEADER = [c.name for c in kaggle.PROPERTY_COLUMNS]


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.integers(-3, 10**12).map(str), CELL),
            st.sampled_from(PROPERTY_HEADER[1:]),
            CELL,
        ),
        max_size=6,
    ),
    wanted=st.lists(st.integers(0, 20), max_size=4),
)
def test_kaggle_properties_load_or_name_file_column_row(rows, wanted):
    """Rows with a parcel id and one other filled column (the rest empty, as Kaggle's are)."""
    cells = []
    for parcel, column, value in rows:
        row = [""] * len(PROPERTY_HEADER)
        row[0], row[PROPERTY_HEADER.index(column)] = parcel, value
        cells.append(row)
    path = _file(".csv", _csv(PROPERTY_HEADER, cells))
    try:
        scan = kaggle.scan_properties(path, np.array(wanted, dtype=np.int64))
    except InputError as error:
        _names_file_column_row(error, path)
        return
    event("loaded")
    assert scan.n_rows == len(rows)
    assert set(scan.table[kaggle.PARCEL]) <= set(wanted)


@FUZZ
@given(content=st.binary(max_size=300), which=st.sampled_from(["transactions", "properties"]))
def test_kaggle_any_bytes_load_or_name_the_file(content, which):
    path = _file(".csv", content)
    try:
        if which == "transactions":
            kaggle.read_transactions(path)
        else:
            kaggle.scan_properties(path, np.array([1], dtype=np.int64))
    except InputError as error:
        _names_file_column_row(error, path)


# -- the MNIST .npz ------------------------------------------------------------------------------
DTYPES = st.sampled_from(
    [np.uint8, np.int64, np.float32, np.float64, np.bool_, np.complex64, "U3", np.int8]
)


@st.composite
def valid_parts(draw) -> dict:
    n_train, n_test = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pixels = st.integers(0, 255)
    def images(n):
        return np.array(draw(st.lists(pixels, min_size=n * 784, max_size=n * 784)), np.uint8)
    return {
        "x_train": images(n_train).reshape(n_train, 28, 28),
        "y_train": np.array(draw(st.lists(st.integers(0, 9), min_size=n_train, max_size=n_train))),
        "x_test": images(n_test).reshape(n_test, 784),
        "y_test": np.array(draw(st.lists(st.integers(0, 9), min_size=n_test, max_size=n_test))),
    }


@st.composite
def arrays(draw):
    shape = draw(
        st.one_of(
            st.tuples(st.integers(0, 3), st.just(28), st.just(28)),
            st.tuples(st.integers(0, 3), st.just(784)),
            st.lists(st.integers(0, 4), max_size=3).map(tuple),
        )
    )
    dtype = np.dtype(draw(DTYPES))
    size = int(np.prod(shape)) if shape else 1
    if dtype.kind in "US":
        values = np.array(draw(st.lists(st.text(max_size=3), min_size=size, max_size=size)))
    else:
        pool = st.sampled_from([0, 1, 9, 10, 255, 256, -1, 3.5, np.nan, np.inf])
        values = np.array(draw(st.lists(pool, min_size=size, max_size=size)))
    with np.errstate(all="ignore"):
        return values.astype(dtype, copy=False).reshape(shape) if shape else values.astype(dtype)


@FUZZ
@given(
    parts=st.one_of(
        valid_parts(),
        st.dictionaries(st.sampled_from([*mnist_data.NPZ_KEYS, "extra"]), arrays(), max_size=5),
        st.tuples(valid_parts(), st.sampled_from(mnist_data.NPZ_KEYS), arrays()).map(
            lambda t: {**t[0], t[1]: t[2]}  # one array replaced
        ),
    )
)
def test_mnist_npz_loads_or_names_file_and_array(parts):
    buffer = io.BytesIO()
    np.savez(buffer, **parts)
    path = _file(".npz", buffer.getvalue())
    try:
        clean = mnist_data.validate_npz(mnist_data.load_npz(path), path)
    except InputError as error:
        _names_file_column_row(error, path)
        return
    event("loaded")
    assert clean["x_train"].shape[1:] == (28, 28, 1) and clean["y_train"].dtype == np.int32


@FUZZ
@given(content=st.binary(max_size=300))
def test_mnist_any_bytes_load_or_name_the_file(content):
    path = _file(".npz", content)
    try:
        mnist_data.load_npz(path)
    except InputError as error:
        _names_file_column_row(error, path)


# -- the config ----------------------------------------------------------------------------------
BASE_CONFIG = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(), st.text(max_size=6)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


CONFIG_PATHS = sorted(_paths(BASE_CONFIG))


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(CONFIG_PATHS), VALUES, st.booleans()), min_size=1, max_size=3
    )
)
def test_config_loads_or_names_file_and_key(edits):
    config = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    for path, value, beside in edits:
        node = config
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[path[-1] + "_x" if beside else path[-1]] = value
    file = _file(".yaml", yaml.safe_dump(config).encode())
    try:
        loaded = load_config(file)
    except ConfigError as error:
        event("refused with ConfigError")
        assert str(file) in str(error)
        assert any(".".join(p[:1]) in str(error) for p, _, _ in edits) or ":" in str(error)
        return
    event("loaded")
    assert isinstance(loaded, dict) and "analyses" in loaded


@FUZZ
@given(content=st.text(max_size=200))
def test_config_any_text_loads_or_names_the_file(content):
    file = _file(".yaml", content.encode())
    try:
        load_config(file)
    except ConfigError as error:
        assert str(file) in str(error)


def test_fuzzing_is_configured_to_run_cases():
    """A settings typo must not turn every property into zero examples."""
    assert EXAMPLES >= 10 and FUZZ.max_examples == EXAMPLES



# -- own-model tables: a models: block's table against its program's data block ----------------
TRAPS_BLOCK = {k: v for k, v in TRAPS_STAN_DATA.items() if k != "prior_only"}
TRAPS_HEADER = ["site", "temp", "a", "b", "c", "count"]
LABELS = st.one_of(st.sampled_from(["north", "east", "south", "", " ", "NA"]), ANY_TEXT)
COUNTS = st.one_of(st.integers(-3, 50).map(str), NUMBERS)


@st.composite
def _traps_table(draw) -> bytes:
    header = list(TRAPS_HEADER)
    if draw(st.integers(0, 9)) == 0:  # now and then a column goes missing or is renamed
        header[draw(st.integers(0, len(header) - 1))] = draw(ANY_TEXT)
    rows = draw(
        st.lists(
            st.tuples(LABELS, NUMBERS, NUMBERS, NUMBERS, NUMBERS, COUNTS).map(list),
            min_size=0,
            max_size=12,
        )
    )
    return _csv(header, rows)


@FUZZ
@given(content=_traps_table(), suffix=st.sampled_from([".csv", ".csv", ".parquet"]))
def test_own_model_tables_load_or_name_file_column_and_row(content, suffix):
    from bayespipe.analyses.models.prepare import prepare

    path = _file(".csv", content)
    if suffix == ".parquet":  # the same cells as text columns in a Parquet file
        import pandas as pd

        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError):
            return
        path = path.with_suffix(".parquet")
        frame.to_parquet(path)
    block = {"program": str(TRAPS), "data": str(path), "stan_data": TRAPS_BLOCK}
    out = path.parent
    try:
        card = prepare("traps", block, path, TRAPS, out / "d.json", out / "c.json")
    except InputError as error:
        _names_file_column_row(error, path)
        assert not (out / "d.json").exists(), "a refused table left Stan data behind"
        return
    event("loaded")
    assert card["rows"] >= 1 and (out / "d.json").is_file()


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=2)
    ),
    max_leaves=6,
)


@FUZZ
@given(entry=st.one_of(JSONISH, st.sampled_from(["rows", {"levels": "x"}, {"columns": ["a"]}])))
def test_every_stan_data_form_is_known_or_named_by_its_key(entry):
    from bayespipe.analyses.models.standata import FORMS, parse_form

    try:
        source = parse_form("models.m.stan_data.v", entry)
    except InputError as error:
        event("refused with InputError")
        assert "models.m.stan_data.v" in str(error)
        return
    event(f"form {source.form}")
    assert source.form in (*FORMS, "literal")
