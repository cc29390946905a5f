"""Stan data checks: bad values are caught before sampling, with the field named."""

import numpy as np
import pytest

from bayespipe.engines.stan.data import Field, StanDataError, check_stan_data
from bayespipe.errors import InputError

SPEC = {
    "N": Field("int", lower=1),
    "J": Field("int", lower=1),
    "K": Field("int", lower=0),
    "group": Field("int", ("N",), lower=1, upper="J"),
    "X": Field("real", ("N", "K")),
    "y": Field("real", ("N",)),
    "trials": Field("int", ("N",), lower=1),
    "successes": Field("int", ("N",), lower=0, upper="trials"),
}


def good_data():
    return {
        "N": 4,
        "J": 2,
        "K": 3,
        "group": [1, 2, 2, 1],
        "X": np.zeros((4, 3)),
        "y": np.array([0.1, -0.2, 0.3, 0.0]),
        "trials": [10, 10, 25, 35],
        "successes": [9, 10, 0, 35],
    }


def test_good_data_passes():
    check_stan_data(good_data(), SPEC)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("y", [0.1, np.nan, 0.3, 0.0], r"'y\[2\]': expected finite values, got nan"),
        ("y", [0.1, 0.2, np.inf, 0.0], r"'y\[3\]': expected finite values, got inf"),
        ("X", np.full((4, 3), -np.inf), r"'X\[1, 1\]': expected finite values"),
        ("y", [0.1, 0.2, 0.3], r"'y': expected shape \(N=4\), got \(3,\)"),
        ("X", np.zeros((4, 2)), r"'X': expected shape \(N=4, K=3\), got \(4, 2\)"),
        ("group", [1, 2, 3, 1], r"'group\[3\]': expected values <= J = 2, got 3"),
        ("group", [0, 1, 1, 1], r"'group\[1\]': expected values >= 1, got 0"),
        ("group", [1, 1.5, 1, 1], r"'group\[2\]': expected integers, got 1.5"),
        ("successes", [9, 11, 0, 35], r"'successes\[2\]': expected values <= trials = 10, got 11"),
        ("N", 0, r"'N': expected values >= 1, got 0"),
        ("y", ["a", "b", "c", "d"], r"'y': expected numbers"),
    ],
)
def test_bad_values_name_the_field(field, value, expected):
    data = good_data()
    data[field] = value
    with pytest.raises(StanDataError, match=expected) as caught:
        check_stan_data(data, SPEC, source="train.parquet")
    assert caught.value.field == field
    assert str(caught.value).startswith("train.parquet: ")
    assert isinstance(caught.value, InputError)


def test_missing_field_is_named():
    data = good_data()
    del data["y"]
    with pytest.raises(StanDataError, match=r"Stan data field 'y': missing from the data"):
        check_stan_data(data, SPEC)


def test_dimension_field_missing_is_named():
    data = good_data()
    del data["K"]
    with pytest.raises(StanDataError, match=r"field 'K'"):
        check_stan_data(data, SPEC)
