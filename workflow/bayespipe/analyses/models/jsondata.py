"""Stan data from a file in CmdStan's JSON data format, checked before any fit.

A block's ``data:`` may name a ``.json`` file (``{"N": 3, "y": [1.5, 2, 0]}``: scalars, and
nested lists for arrays, vectors and matrices, outermost index first; ``array[N] vector[K]`` is
N lists of K numbers). No ``stan_data:`` is needed; where one is given, its literals are added
(``prior_only: 0``), and an entry that the file also sets is an error. Variables the program does
not declare are ignored, as CmdStan ignores them (a posteriordb data set serves several
programs), and listed in the data card.

The same checks as for a table: base type (a non-integer in an ``int`` variable), number of
dimensions (``stanc --info``), sizes and bounds that are literals or data variables, element by
element. An error names the file, the variable and the element with Stan's 1-based indices.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bayespipe.analyses.models.standata import _literal, parse_form, resolve
from bayespipe.engines.stan.program import DataVariable, ProgramInfo
from bayespipe.errors import InputError

SUFFIX = ".json"
# The strings CmdStan's JSON reader takes for the special real values (any case).
SPECIAL = {
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}
INT_RANGE = (-(2**31), 2**31 - 1)  # Stan's int is 32 bits
LITERAL_HELP = "a number or a list of numbers, e.g. prior_only: 0"


def is_json(path) -> bool:
    """Whether a block's ``data:`` names a CmdStan JSON data file (rather than a table)."""
    return Path(str(path)).suffix.lower() == SUFFIX


def read_data_file(path) -> dict:
    """The variables of a CmdStan JSON data file, as parsed (not yet checked)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "data file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a JSON data file (not UTF-8 text: {exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(document, dict):
        raise InputError(
            path,
            "expected a JSON object mapping each Stan data variable to its value (CmdStan's "
            f"JSON data format), got {_json_kind(document)}",
        )
    return document


def check_block(name: str, entry: dict) -> None:
    """What a JSON block may not say, before any file is read: table forms and ``heldout``."""
    key = f"models.{name}"
    if entry.get("heldout"):
        raise InputError(
            None,
            f"{key}.heldout: held-out scoring needs rows to hold out, and {key}.data "
            f"({entry['data']}) is a CmdStan JSON data file, which has none: drop heldout, or "
            "give the data as a table (.csv or .parquet) with stan_data",
        )
    check_literals(key, entry["data"], entry.get("stan_data"))


def check_literals(key: str, data_file, block: dict | None) -> None:
    """With a JSON file, ``stan_data`` may add literals only (no table to read columns from)."""
    for variable, value in (block or {}).items():
        form = parse_form(f"{key}.stan_data.{variable}", value).form
        if form != "literal":
            raise InputError(
                None,
                f"{key}.stan_data.{variable}: {value!r} reads a table, but {key}.data "
                f"({data_file}) is a CmdStan JSON data file: with a JSON file, stan_data "
                f"may only add literals ({LITERAL_HELP})",
            )


class JsonData:
    """The Stan data of a block whose ``data:`` is a CmdStan JSON file, literals added.

    ``key`` is the block's config key (``models.<name>``).
    """

    def __init__(self, path, block: dict | None, program: ProgramInfo, *, key: str):
        self.path, self.program, self.key = Path(path), program, key
        self.block = dict(block or {})
        check_literals(key, path, self.block)
        raw = read_data_file(self.path)
        declared = program.data
        for name in self.block:
            if name in raw:
                raise InputError(
                    self.path,
                    f"{key}.stan_data.{name} sets '{name}', and so does this data file: give "
                    "it in one place (drop the stan_data entry or the file's variable)",
                )
        unknown = [n for n in self.block if n not in declared]
        if unknown:
            raise InputError(
                program.path,
                f"{key}.stan_data.{unknown[0]}: the program declares no data variable "
                f"'{unknown[0]}' (its data block declares {', '.join(declared) or 'nothing'})",
            )
        missing = [
            n for n in declared if n not in raw and n not in self.block and n != "prior_only"
        ]
        if missing:
            variable = declared[missing[0]]
            raise InputError(
                self.path,
                f"Stan variable '{variable.name}' (declared "
                f"`{variable.declaration or variable.name}`) is neither in this data file nor in "
                f"{key}.stan_data (the file has {', '.join(raw) or 'no variables'})",
            )
        self.raw = {n: raw[n] for n in declared if n in raw}
        self.ignored = [n for n in raw if n not in declared]

    # ----------------------------------------------------------------- building
    def build(self) -> dict:
        """Every declared variable the file or the block sets, every check applied."""
        data = {}
        for name, variable in self.program.data.items():
            if name in self.raw:
                data[name] = self._from_file(name, variable)
            elif name in self.block:
                value = _literal(self.block[name], variable, self._literal_key(name))
                self._check_dimensions(name, variable, np.shape(value))
                data[name] = value
        for name in data:
            data[name] = self._check_sizes(name, data)
        for name in data:
            self._check_bounds(name, data)
        return data

    def describe(self) -> dict:
        """Where each variable comes from (the ``sources`` of the Stan data document)."""
        return {
            **{name: {"form": "file", "columns": []} for name in self.raw},
            **{name: {"form": "literal", "columns": []} for name in self.block},
        }

    def _literal_key(self, name: str) -> str:
        return f"{self.key}.stan_data.{name}"

    def _fail(self, name: str, message: str) -> InputError:
        """An error about variable ``name``: named by the file, or by its stan_data key."""
        if name in self.raw:
            return InputError(self.path, message)
        return InputError(None, f"{self._literal_key(name)}: {message}")

    def _where(self, name: str) -> str:
        return "the file" if name in self.raw else self._literal_key(name)

    def _from_file(self, name: str, variable: DataVariable):
        base = variable.base
        if not isinstance(base, str) or base not in ("int", "real", "complex"):
            raise InputError(
                self.path,
                f"Stan variable '{name}' is declared `{variable.declaration or name}` (a tuple): "
                "the models analysis reads int, real and complex data only",
            )
        value = self.raw[name]
        shape = _shape(value, name, self.path)
        array = np.asarray(_floats(value, name, self.path), dtype=float).reshape(shape)
        self._check_dimensions(name, variable, shape)
        if base != "int":
            return array
        finite = np.isfinite(array)
        whole = finite & (array == np.round(array))
        if not whole.all():
            index = _first(~whole)
            raise InputError(
                self.path,
                f"{_element(name, index)} = {_text(array[index])} is not an integer, but Stan "
                f"variable '{name}' is declared `{variable.declaration or name}`",
            )
        outside = (array < INT_RANGE[0]) | (array > INT_RANGE[1])
        if outside.any():
            index = _first(outside)
            raise InputError(
                self.path,
                f"{_element(name, index)} = {_text(array[index])} is outside Stan's int range "
                f"({INT_RANGE[0]} to {INT_RANGE[1]})",
            )
        return array.astype(np.int64)

    # ----------------------------------------------------------------- checks
    def _check_dimensions(self, name: str, variable: DataVariable, shape: tuple) -> None:
        expected = variable.dimensions + (variable.base == "complex")
        empty = 0 in shape
        if len(shape) == expected or (empty and len(shape) < expected):
            return  # CmdStan reads [] as an empty array of any number of dimensions
        sizes = "" if "?" in variable.sizes else " x ".join(variable.sizes)
        wants = (
            "a number"
            if expected == 0
            else f"{expected} level(s) of nested lists" + (f" (sizes {sizes})" if sizes else "")
        )
        raise self._fail(
            name,
            f"Stan variable '{name}' is declared `{variable.declaration or name}`, which takes "
            f"{wants}, but {self._where(name)} gives {_shape_text(shape)}",
        )

    def _check_sizes(self, name: str, data: dict):
        """Check the declared sizes that are known; an empty array gets its declared shape."""
        variable = self.program.data[name]
        value = data[name]
        shape = np.shape(value)
        declared = []
        for axis, expression in enumerate(variable.sizes):
            size = resolve(expression, data)
            if size is None or np.ndim(size) != 0:
                declared.append(None)
                continue
            declared.append(int(size))
            if size < 0:
                raise self._fail(
                    name,
                    f"Stan variable '{name}' is declared `{variable.declaration}` with "
                    f"{expression} = {int(size)}: a size cannot be negative",
                )
            if axis < len(shape) and shape[axis] != int(size):
                raise self._fail(
                    name,
                    f"Stan variable '{name}' is declared `{variable.declaration}` with "
                    f"{expression} = {int(size)}, but {self._where(name)} gives {shape[axis]} "
                    f"values along dimension {axis + 1}"
                    + (f" ({_element(name, (0,) * axis)} has {shape[axis]})" if axis else ""),
                )
        if len(shape) < len(declared) and None not in declared:
            if math.prod(declared) != 0:
                raise self._fail(
                    name,
                    f"Stan variable '{name}' is declared `{variable.declaration}` with sizes "
                    f"{' x '.join(map(str, declared))}, but {self._where(name)} gives an "
                    "empty array",
                )
            return np.zeros(declared, dtype=np.asarray(value).dtype)
        return value

    def _check_bounds(self, name: str, data: dict) -> None:
        variable = self.program.data[name]
        if variable.base not in ("int", "real"):
            return
        values = np.asarray(data[name], dtype=float)
        for expression, below in ((variable.lower, True), (variable.upper, False)):
            limit = resolve(expression, data)
            if limit is None or (np.ndim(limit) and np.shape(limit) != values.shape):
                continue  # an expression, or a bound of another shape: Stan checks it
            with np.errstate(invalid="ignore"):
                bad = ~(values >= limit) if below else ~(values <= limit)  # NaN fails a bound
            if np.any(bad):
                index = _first(np.asarray(bad))
                value = values[index] if values.ndim else values.item()
                at = np.asarray(limit)[index] if np.ndim(limit) else limit
                bound = f"{'lower' if below else 'upper'} bound {expression.strip()}"
                if expression.strip() != _text(at):
                    bound += f" = {_text(at)}"
                if math.isnan(value):
                    problem = f"fails the declared {bound} (NaN is within no bound)"
                else:
                    problem = f"is {'below' if below else 'above'} the declared {bound}"
                raise self._fail(
                    name,
                    f"{_element(name, index)} = {_text(value)} {problem} (Stan variable "
                    f"'{name}', declared `{variable.declaration}`)",
                )


def _json_kind(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _element(name: str, index: tuple) -> str:
    """``y[3]``, ``X[2, 1]``: an element with Stan's 1-based indices (a scalar: its name)."""
    return f"{name}[{', '.join(str(i + 1) for i in index)}]" if index else name


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(np.atleast_1d(mask))[0]) if np.ndim(mask) else ()


def _text(value) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return str(int(number)) if number.is_integer() else repr(number)


def _shape_text(shape: tuple) -> str:
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    return f"nested lists of sizes {' x '.join(map(str, shape))}"


def _shape(value, name: str, path, index: tuple = ()) -> tuple:
    """The shape of a (nested list) value; a ragged one is an error naming the element."""
    if not isinstance(value, list):
        return ()
    shapes = [_shape(v, name, path, (*index, i)) for i, v in enumerate(value)]
    for i, shape in enumerate(shapes[1:], start=1):
        if shape != shapes[0]:
            raise InputError(
                path,
                f"{_element(name, (*index, i))} is {_shape_text(shape)}, but "
                f"{_element(name, (*index, 0))} is {_shape_text(shapes[0])}: Stan data arrays "
                "are rectangular",
            )
    return (len(value), *(shapes[0] if shapes else ()))


def _floats(value, name: str, path, index: tuple = ()):
    """The numbers of a (nested list) value as floats (special strings: NaN, inf, -inf)."""
    if isinstance(value, list):
        return [_floats(v, name, path, (*index, i)) for i, v in enumerate(value)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any double
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str) and value.strip().lower() in SPECIAL:
        return SPECIAL[value.strip().lower()]
    shown = json.dumps(value)
    raise InputError(
        path,
        f"{_element(name, index)} is {shown}, not a number (CmdStan's JSON data holds numbers, "
        'nested lists of numbers, and the strings "NaN", "inf" and "-inf")',
    )
