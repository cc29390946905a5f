"""The models analysis's data checks, every problem named before any fit.

A table and a `stan_data:` block against a program's data block (stanc --info plus its
declarations).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.models.prepare import load_stan_data, prepare
from bayespipe.analyses.models.standata import DataBuilder, parse_form, split_rows
from bayespipe.analyses.models.table import read_table
from bayespipe.engines.stan.program import parse_data_block, program_info
from bayespipe.errors import InputError
from fixtures.own_models import TRAPS, TRAPS_STAN_DATA

BLOCK = TRAPS_STAN_DATA


def traps_table(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "site": rng.choice(["north", "east", "south"], size=n),
            "temp": rng.normal(size=n).round(3),
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
            "count": rng.poisson(3, size=n),
        }
    )


def entry(table_path: Path, **changes) -> dict:
    return {"program": str(TRAPS), "data": str(table_path), "stan_data": dict(BLOCK), **changes}


def write(tmp_path: Path, table: pd.DataFrame, name: str = "traps.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False)
    return path


def build(tmp_path, table, block=None, program=TRAPS):
    path = write(tmp_path, table)
    info = program_info(program)
    builder = DataBuilder(
        read_table(path), block or BLOCK, info, path=path, key="models.traps.stan_data"
    )
    return builder.build(), path


def test_a_good_table_builds_every_variable_with_the_declared_types(tmp_path):
    table = traps_table()
    data, _ = build(tmp_path, table)
    assert data["N"] == 12 and data["G"] == 3
    levels = sorted(table["site"].unique())
    assert data["site"].tolist() == [levels.index(s) + 1 for s in table["site"]]
    assert data["site"].dtype == np.int64 and data["y"].dtype == np.int64
    assert data["x"].dtype == float and data["X"].shape == (12, 3)
    np.testing.assert_allclose(data["X"][:, 1], table["b"])


def test_prepare_writes_typed_stan_data_and_a_card_for_csv_and_parquet(tmp_path):
    for name in ("traps.csv", "traps.parquet"):
        path = write(tmp_path, traps_table(), name)
        card = prepare("traps", entry(path), path, TRAPS, tmp_path / "d.json", tmp_path / "c.json")
        loaded = load_stan_data(tmp_path / "d.json")
        assert card["rows"] == 12 and card["replicated"] == {"y": "y_rep"} and card["log_lik"]
        assert loaded["N"] == 12 and loaded["y"].dtype == np.int64


def test_heldout_rows_are_a_seeded_disjoint_share(tmp_path):
    fit, heldout = split_rows(20, 0.25, seed=4)
    assert len(heldout) == 5 and not set(fit) & set(heldout) and len(fit) + len(heldout) == 20
    assert split_rows(20, 0.25, seed=4)[1].tolist() == heldout.tolist()
    path = write(tmp_path, traps_table(20))
    prepare(
        "traps",
        entry(path, heldout={"fraction": 0.25, "seed": 4}),
        path,
        TRAPS,
        tmp_path / "d.json",
        tmp_path / "c.json",
    )
    held = load_stan_data(tmp_path / "d.json", "heldout")
    assert held["N"] == 5 and held["G"] == 3  # levels come from the whole table
    with pytest.raises(InputError, match="leaves no held-out"):
        split_rows(3, 0.01, seed=1)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.drop(columns=["temp"]), ["column 'temp'", "Stan variable 'x'", "no such"]),
        (lambda t: t.assign(site=t["site"].where(t.index != 4, " ")), ["row 5", "blank label"]),
        (
            lambda t: t.assign(count=t["count"].astype(float).where(t.index != 2, 2.5)),
            ["row 3", "column 'count'", "2.5 is not an integer", "declared int"],
        ),
        (
            lambda t: t.assign(count=t["count"].where(t.index != 6, -1)),
            ["row 7", "column 'count'", "-1 is below the lower bound 0", "Stan variable 'y'"],
        ),
        (
            lambda t: t.assign(temp=t["temp"].astype(object).where(t.index != 1, "warm")),
            ["row 2", "column 'temp'", "'warm', not a number"],
        ),
        (
            lambda t: t.assign(a=t["a"].where(t.index != 8, np.nan)),
            ["row 9", "column 'a'", "missing value", "Stan variable 'X'"],
        ),
    ],
    ids=["missing column", "blank label", "float in int", "out of bounds", "text", "blank"],
)
def test_each_bad_table_names_file_column_row_and_stan_variable(tmp_path, mutate, expected):
    with pytest.raises(InputError) as error:
        build(tmp_path, mutate(traps_table()))
    message = str(error.value)
    assert "traps.csv" in message
    for part in expected:
        assert part in message, message


def test_a_missing_table_and_a_wrong_suffix_are_named(tmp_path):
    with pytest.raises(InputError, match="table not found"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(InputError, match=r"t\.xlsx.*\.csv or \.parquet"):
        read_table(tmp_path / "t.xlsx")


def test_a_variable_the_block_does_not_build_is_named_with_its_declaration(tmp_path):
    block = {k: v for k, v in BLOCK.items() if k != "x"}
    with pytest.raises(InputError) as error:
        build(tmp_path, traps_table(), block)
    assert "Stan variable 'x'" in str(error.value) and "vector[N] x" in str(error.value)
    assert "models.traps.stan_data" in str(error.value)


def test_a_block_entry_the_program_does_not_declare_is_named(tmp_path):
    with pytest.raises(InputError, match=r"models\.traps\.stan_data\.rain: the program declares"):
        build(tmp_path, traps_table(), {**BLOCK, "rain": {"column": "temp"}})


@pytest.mark.parametrize(
    "form", [{"col": "temp"}, "row", {"column": ["a"]}, {"columns": "a"}, True, {"levels": ""}]
)
def test_an_unknown_form_lists_the_forms_there_are(form):
    with pytest.raises(InputError, match=r"models\.m\.stan_data\.x: unknown form.*levels"):
        parse_form("models.m.stan_data.x", form)


def test_dimensions_and_sizes_are_checked_against_the_declarations(tmp_path):
    with pytest.raises(InputError, match=r"gives 2 dimension\(s\), but Stan variable 'x'"):
        build(tmp_path, traps_table(), {**BLOCK, "x": {"columns": ["a", "b"]}})
    with pytest.raises(InputError, match=r"G = 3, but .* gives 12 values"):
        program = tmp_path / "sized.stan"
        program.write_text(
            "data { int N; int G; vector[G] w; }\n"
            "parameters { real m; }\nmodel { m ~ normal(0, 1); }"
        )
        build(
            tmp_path,
            traps_table(),
            {"N": "rows", "G": {"levels": "site"}, "w": {"column": "temp"}},
            program=program,
        )


def test_literals_must_fit_their_declared_type(tmp_path):
    with pytest.raises(InputError, match="not a number or a rectangular list"):
        build(tmp_path, traps_table(), {**BLOCK, "x": [[1.0, 2.0], [3.0]]})
    with pytest.raises(InputError, match="0.5 is not an integer"):
        build(tmp_path, traps_table(), {**BLOCK, "prior_only": 0.5})
    with pytest.raises(InputError, match="above the upper bound 1"):
        build(tmp_path, traps_table(), {**BLOCK, "prior_only": 2})


def test_stans_own_message_is_mapped_back_to_the_column_and_row(tmp_path):
    path = write(tmp_path, traps_table())
    builder = DataBuilder(
        read_table(path), BLOCK, program_info(TRAPS), path=path, key="models.traps.stan_data"
    )
    rows = np.array([0, 2, 5, 7])
    message = "Exception: model_traps: y[3] is -1, but must be greater than or equal to 0"
    explained = builder.explain_stan_error(message, rows)
    assert "row 6" in explained and "column 'count'" in explained and message in explained
    assert builder.explain_stan_error("something else", rows) == "something else"


def test_the_data_block_reader_follows_sizes_bounds_and_comments():
    declared = parse_data_block(
        """
        // a comment with data { inside }
        data {
          array[N, 2] int<lower=0, upper=K> counts;  /* block comment ; */
          vector<lower=-1.5>[J] w;
          matrix[N, K] X;
          real<lower=fmin(a, b)> s;
        }
        parameters { real m; }
        """
    )
    assert declared["counts"].sizes == ("N", "2") and declared["counts"].upper == "K"
    assert declared["w"].lower == "-1.5" and declared["w"].sizes == ("J",)
    assert declared["X"].sizes == ("N", "K") and declared["s"].lower == "fmin(a, b)"


def test_program_info_names_a_missing_or_broken_program(tmp_path):
    with pytest.raises(InputError, match="Stan program not found"):
        program_info(tmp_path / "absent.stan")
    broken = tmp_path / "broken.stan"
    broken.write_text("data { int N }")
    with pytest.raises(InputError, match="stanc rejects the program"):
        program_info(broken)
    info = program_info(TRAPS)
    assert info.parameters == ("alpha", "beta_x", "beta", "sigma_site", "z")
    assert info.replicated() == {"y": "y_rep"} and info.has_log_lik and info.has_prior_only


def test_heldout_rows_need_parameters_whose_size_does_not_follow_the_rows(tmp_path):
    program = tmp_path / "per_row.stan"
    program.write_text(
        "data { int N; vector[N] y; }\nparameters { vector[N] z; }\nmodel { z ~ normal(y, 1); }"
    )
    path = write(tmp_path, traps_table(20))
    block = {"program": str(program), "data": str(path), "heldout": {"fraction": 0.25}}
    block["stan_data"] = {"N": "rows", "y": {"column": "temp"}}
    with pytest.raises(InputError, match=r"parameter 'z' is declared `vector\[N\] z`.*15.*5"):
        prepare("m", block, path, program, tmp_path / "d.json", tmp_path / "c.json")
    assert not (tmp_path / "d.json").exists()
