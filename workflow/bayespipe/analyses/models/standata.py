"""Build a program's Stan data from a table and a ``stan_data:`` block, checked before any fit.

Each entry of the block says how one data variable is made from the table::

    N: rows                      the number of rows
    G: {levels: site}            the number of distinct labels of a column
    site: {index: site}          1-based codes of a label column (labels sorted)
    x: {column: temp}            a column (int or real, as the program declares it)
    X: {columns: [a, b, c]}      a matrix, one column per name
    prior_only: 0                a literal (a number or a list of numbers)

Types and dimensions come from ``stanc --info``; sizes and bounds that are literals or data
variables are checked here, element by element, so an error names the file, the column, the
row and the Stan variable. Anything else Stan checks when it reads the data, and
``explain_stan_error`` maps its message back to the column and row.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from bayespipe.analyses.models import table as tables
from bayespipe.engines.stan.program import DataVariable, ProgramInfo
from bayespipe.errors import InputError

FORMS = ("rows", "levels", "index", "column", "columns")
FORM_HELP = (
    "rows | {levels: COLUMN} | {index: COLUMN} | {column: COLUMN} | {columns: [COLUMN, ...]} "
    "| a number or a list of numbers"
)
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Source:
    """Where a Stan variable's values come from: its form and the table columns it reads."""

    form: str
    columns: tuple[str, ...] = ()


def parse_form(key: str, entry) -> Source:
    """The form of one block entry; anything else is an error naming ``key``."""
    if entry == "rows":
        return Source("rows")
    if _is_number(entry) or _numeric_list(entry):
        return Source("literal")
    if isinstance(entry, dict) and len(entry) == 1:
        ((form, value),) = entry.items()
        if form in ("levels", "index", "column") and isinstance(value, str) and value:
            return Source(form, (value,))
        if form == "columns" and _strings(value):
            return Source(form, tuple(value))
    raise InputError(None, f"{key}: unknown form {entry!r} (expected {FORM_HELP})")


def _numeric_list(value) -> bool:
    if not isinstance(value, list) or not value:
        return False
    return all(_numeric_list(v) if isinstance(v, list) else _is_number(v) for v in value)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def split_rows(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows), 0-based and in table order: a seeded random ``fraction``."""
    n_heldout = int(round(n_rows * fraction))
    if not 0 < n_heldout < n_rows:
        raise InputError(
            None,
            f"heldout.fraction {fraction} of {n_rows} rows leaves no held-out or no fitted rows",
        )
    heldout = np.sort(np.random.default_rng(seed).permutation(n_rows)[:n_heldout])
    return np.setdiff1d(np.arange(n_rows), heldout), heldout


def resolve(expression: str | None, data: dict):
    """A declared size or bound: a number, or the values of a data variable; None when unknown."""
    if expression is None:
        return None
    text = expression.strip()
    if NUMBER.match(text):
        return float(text)
    if text in data:
        return np.asarray(data[text])
    return None


class DataBuilder:
    """Builds the Stan data of one model block from its table, for all rows or a subset."""

    def __init__(self, table: pd.DataFrame, block: dict, program: ProgramInfo, *, path, key):
        self.table, self.block, self.program = table, dict(block), program
        self.path, self.key = path, key
        self.sources = {name: parse_form(f"{key}.{name}", v) for name, v in self.block.items()}
        self._check_names()
        self._codes = {}  # label column -> (sorted labels, 1-based code per row)

    def _check_names(self) -> None:
        declared = self.program.data
        unknown = [n for n in self.block if n not in declared]
        if unknown:
            raise InputError(
                self.program.path,
                f"{self.key}.{unknown[0]}: the program declares no data variable "
                f"'{unknown[0]}' (its data block declares {', '.join(declared) or 'nothing'})",
            )
        missing = [n for n in declared if n not in self.block and n != "prior_only"]
        if missing:
            variable = declared[missing[0]]
            declaration = variable.declaration or variable.name
            raise InputError(
                self.program.path,
                f"Stan variable '{variable.name}' (declared `{declaration}`) is not built by "
                f"{self.key}; add '{variable.name}:' with one of: {FORM_HELP}",
            )

    def wanted_by(self, name: str) -> str:
        return f"Stan variable '{name}' ({self.key}.{name})"

    def label_codes(self, column: str, name: str) -> tuple[list[str], np.ndarray]:
        if column not in self._codes:
            series = tables.column(self.table, column, self.path, wanted_by=self.wanted_by(name))
            text = tables.labels(series, self.path, wanted_by=self.wanted_by(name))
            levels = sorted(text.unique())
            codes = text.map({label: i + 1 for i, label in enumerate(levels)})
            self._codes[column] = (levels, codes.to_numpy(dtype=np.int64))
        return self._codes[column]

    def build(self, rows: np.ndarray | None = None) -> dict:
        """Stan data for the given 0-based rows (all rows when None), every check applied."""
        rows = np.arange(len(self.table)) if rows is None else np.asarray(rows)
        data = {}
        for name, source in self.sources.items():
            variable = self.program.data[name]
            value = self._value(name, source, variable, rows)
            self._check_dimensions(name, source, variable, value)
            data[name] = value
        for name in data:
            self._check_sizes(name, data)
            self._check_bounds(name, data, rows)
        return data

    def _value(self, name: str, source: Source, variable: DataVariable, rows: np.ndarray):
        if source.form == "rows":
            return int(len(rows))
        if source.form == "literal":
            return _literal(self.block[name], variable, f"{self.key}.{name}")
        if source.form in ("levels", "index"):
            levels, codes = self.label_codes(source.columns[0], name)
            return len(levels) if source.form == "levels" else codes[rows]
        integer = variable.base == "int"
        columns = [
            tables.numbers(
                tables.column(self.table, c, self.path, wanted_by=self.wanted_by(name)),
                self.path,
                integer=integer,
                wanted_by=self.wanted_by(name),
            )[rows]
            for c in source.columns
        ]
        return columns[0] if source.form == "column" else np.column_stack(columns)

    def _check_dimensions(self, name, source: Source, variable: DataVariable, value) -> None:
        got = np.ndim(value)
        if got != variable.dimensions:
            shape = "a number" if got == 0 else f"{got} dimension(s)"
            raise InputError(
                self.path,
                f"{self.key}.{name} ({source.form}) gives {shape}, but Stan variable '{name}' "
                f"is declared `{variable.declaration or name}` with {variable.dimensions}",
            )

    def _check_sizes(self, name: str, data: dict) -> None:
        variable = self.program.data[name]
        shape = np.shape(data[name])
        for axis, expression in enumerate(variable.sizes):
            size = resolve(expression, data)
            if size is None or np.ndim(size) != 0 or axis >= len(shape):
                continue
            if shape[axis] != int(size):
                source = self.sources[name]
                what = f"column(s) {', '.join(source.columns)}" if source.columns else source.form
                raise InputError(
                    self.path,
                    f"Stan variable '{name}' is declared `{variable.declaration}` with "
                    f"{expression} = {int(size)}, but {self.key}.{name} ({what}) gives "
                    f"{shape[axis]} values along dimension {axis + 1}",
                )

    def _check_bounds(self, name: str, data: dict, rows: np.ndarray) -> None:
        variable = self.program.data[name]
        values = np.asarray(data[name], dtype=float)
        for expression, below in ((variable.lower, True), (variable.upper, False)):
            limit = resolve(expression, data)
            if limit is None:
                continue
            try:
                bad = values < limit if below else values > limit
            except ValueError:
                continue  # a bound of another shape: Stan checks it
            if np.any(bad):
                self._bound_error(name, variable, values, limit, bad, expression, below, rows)

    def _bound_error(self, name, variable, values, limit, bad, expression, below, rows):
        index = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
        value = np.atleast_1d(values)[index]
        at = np.atleast_1d(limit)[index] if np.ndim(limit) else limit
        bound = f"{'lower' if below else 'upper'} bound {expression}" + (
            f" = {_plain(at)}" if expression.strip() != str(_plain(at)) else ""
        )
        source = self.sources[name]
        column, row = self.cell(name, index, rows)
        raise InputError(
            self.path,
            f"{_plain(value)} is {'below' if below else 'above'} the {bound} of Stan variable "
            f"'{name}' (declared `{variable.declaration}`; {self.key}.{name}: {source.form})",
            column=column,
            row=row,
        )

    def cell(self, name: str, index: tuple, rows: np.ndarray) -> tuple[str | None, int | None]:
        """The table column and 1-based row behind element ``index`` (0-based) of a variable."""
        source = self.sources.get(name)
        if source is None or not source.columns or not index:
            return None, None
        column = (
            source.columns[index[1]]
            if source.form == "columns" and len(index) > 1
            else (source.columns[0])
        )
        row = int(rows[index[0]]) + 1 if index[0] < len(rows) else None
        return column, row

    def explain_stan_error(self, message: str, rows: np.ndarray) -> str:
        """Stan's message about a data variable, with the table's file, column and row added."""
        for match in re.finditer(r"\b([A-Za-z][A-Za-z0-9_]*)\[(\d+)(?:,\s*(\d+))?\]", message):
            name = match[1]
            if name in self.sources:
                index = tuple(int(g) - 1 for g in match.groups()[1:] if g)
                column, row = self.cell(name, index, rows)
                if column:
                    return (
                        f"{self.path}, row {row}, column '{column}': Stan rejects Stan variable "
                        f"'{name}' ({self.key}.{name}):\n{message}"
                    )
        return message

    def describe(self) -> dict:
        return {name: asdict(source) for name, source in self.sources.items()}


def _plain(value):
    number = float(value)
    return int(number) if number.is_integer() else number


def _literal(value, variable: DataVariable, key: str):
    try:
        array = np.asarray(value, dtype=float)
    except ValueError as exc:  # ragged lists
        raise InputError(
            None, f"{key}: {value!r} is not a number or a rectangular list of numbers"
        ) from exc
    if variable.base == "int":
        if not np.all(array == np.round(array)):
            raise InputError(
                None, f"{key}: {value!r} is not an integer, but '{variable.name}' is declared int"
            )
        array = array.astype(np.int64)
    return array.item() if array.ndim == 0 else array
