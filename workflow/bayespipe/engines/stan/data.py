"""Checks of a Stan data dict before sampling, with messages that name the field.

Stan itself would reject most of these, but only after compiling and starting chains, and with
messages about its own variable declarations; a user should instead hear which field of which
input is wrong. A spec maps each field to a :class:`Field`:

    spec = {
        "N": Field("int", lower=1),
        "J": Field("int", lower=1),
        "group": Field("int", shape=("N",), lower=1, upper="J"),   # 1-based group index
        "y": Field("real", shape=("N",)),
        "X": Field("real", shape=("N", "K")),
    }

Shapes and bounds may name other integer fields of the same data; a bound that names an array
field of the same shape is checked element by element (``Field("int", ("N",), upper="density")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bayespipe.errors import InputError


@dataclass(frozen=True)
class Field:
    kind: str = "real"  # "int" or "real"
    shape: tuple = ()  # ints or names of integer fields
    lower: float | int | str | None = None  # inclusive bound, or the name of an integer field
    upper: float | int | str | None = None


class StanDataError(InputError):
    """A Stan data field is missing, has the wrong shape or type, or holds a bad value."""

    def __init__(self, source, field: str, message: str, *, index: tuple | None = None):
        where = f"[{', '.join(str(i + 1) for i in index)}]" if index else ""
        super().__init__(source, f"Stan data field '{field}{where}': {message}")
        self.field = field
        self.index = index


def _as_spec(value) -> Field:
    if isinstance(value, Field):
        return value
    return Field(**value)


def _resolve(bound, data: Mapping, name: str, source, elementwise: bool = False):
    """A bound or a dimension given as a number or as the name of another field.

    A bound may name an array field of the same shape (checked element by element).
    """
    if isinstance(bound, str):
        if bound not in data:
            raise StanDataError(source, name, f"refers to field '{bound}', which is missing")
        value = np.asarray(data[bound])
        if elementwise and value.ndim:
            return value
        return int(value.item())
    return bound


def _first_index(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _check_values(name: str, values: np.ndarray, field: Field, data: Mapping, source) -> None:
    if values.dtype.kind not in "biuf":
        raise StanDataError(source, name, f"expected numbers, got values of type {values.dtype}")
    finite = np.isfinite(values)
    if not finite.all():
        index = _first_index(~finite)
        raise StanDataError(
            source, name, f"expected finite values, got {values[index]}", index=index or None
        )
    if field.kind == "int" and values.size and not np.all(values == np.round(values)):
        index = _first_index(values != np.round(values))
        raise StanDataError(
            source, name, f"expected integers, got {values[index]}", index=index or None
        )
    for bound, compare, words in ((field.lower, np.less, ">="), (field.upper, np.greater, "<=")):
        limit = _resolve(bound, data, name, source, elementwise=True)
        if limit is None:
            continue
        try:
            bad = compare(values, limit)
        except ValueError as exc:
            raise StanDataError(
                source, name, f"bound '{bound}' has shape {np.shape(limit)}, data {values.shape}"
            ) from exc
        if bad.any():
            index = _first_index(bad)
            at = np.asarray(limit)[index] if np.ndim(limit) else limit
            label = f"{bound} = {at}" if isinstance(bound, str) else f"{limit}"
            raise StanDataError(
                source,
                name,
                f"expected values {words} {label}, got {values[index]}",
                index=index or None,
            )


def check_stan_data(data: Mapping, spec: Mapping, source=None) -> None:
    """Raise StanDataError for the first bad field, naming it and ``source``.

    Raise StanDataError for the first missing field, wrong shape, NaN/Inf, non-integer or
    out-of-range value; ``source`` (a file path) is named in the message when given.
    """
    for name, raw_field in spec.items():
        field = _as_spec(raw_field)
        if name not in data:
            raise StanDataError(source, name, "missing from the data")
        try:
            values = (
                np.asarray(data[name], dtype=float)
                if not isinstance(data[name], np.ndarray)
                else data[name]
            )
        except (TypeError, ValueError) as exc:
            raise StanDataError(
                source, name, "expected numbers (could not read the values as an array)"
            ) from exc
        expected = tuple(_resolve(d, data, name, source) for d in field.shape)
        if values.shape != expected:
            names = ", ".join(
                f"{d}={v}" if isinstance(d, str) else str(v)
                for d, v in zip(field.shape, expected, strict=True)
            )
            raise StanDataError(source, name, f"expected shape ({names}), got {values.shape}")
        _check_values(name, np.asarray(values), field, data, source)


def sufficient_statistics(
    y: np.ndarray, X: np.ndarray, groups: np.ndarray | None, n_groups: int
) -> dict:
    """What a Gaussian linear likelihood over rows needs: totals, cross-products, per-group sums.

    ``groups`` holds 1-based group indices (None for an ungrouped model). The Stan programs of the
    Zillow study and of calibration read these instead of the rows, so their data size does not
    grow with the rows.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:  # one predictor; reshape(len(y), -1) fails for no rows
        X = X[:, None]
    stats = {
        "N": len(y),
        "K": X.shape[1],
        "yy": float(y @ y),
        "y_sum": float(y.sum()),
        "xy": X.T @ y,
        "x_sum": X.sum(axis=0),
        "xx": X.T @ X,
    }
    if groups is not None:
        index = np.asarray(groups, dtype=np.int64) - 1
        stats["G"] = n_groups
        stats["n_group"] = np.bincount(index, minlength=n_groups).astype(float)
        stats["y_group"] = np.bincount(index, weights=y, minlength=n_groups)
        x_group = np.zeros((n_groups, X.shape[1]))
        np.add.at(x_group, index, X)
        stats["x_group"] = x_group
    return stats
