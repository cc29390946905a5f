"""Zillow data stage: synthetic twin, Kaggle loader, preparation chain, data card (no Snakemake)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayespipe.analyses.zillow import card, kaggle, prep, synthetic
from bayespipe.errors import ConfigError, InputError
from bayespipe.io import read_json

SETTINGS = {"max_null_fraction": 0.5, "n_predictors": 3, "validation_fraction": 0.5, "seed": 2016}


def generate(
    folder: Path, seed=11, n_properties=3000, n_transactions=1500, n_zips=40
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "transactions": folder / kaggle.TRANSACTIONS_FILE,
        "properties": folder / kaggle.PROPERTIES_FILE,
        "truth": folder / "synthetic_truth.json",
    }
    synthetic.generate(
        seed,
        n_properties,
        n_transactions,
        n_zips,
        paths["transactions"],
        paths["properties"],
        paths["truth"],
    )
    return paths


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("prepared")
    prep.prepare_all(raw["transactions"], raw["properties"], folder, SETTINGS)
    return folder


# --- synthetic twin ------------------------------------------------------------------------------


def test_synthetic_files_have_the_kaggle_layout(raw):
    properties = pd.read_csv(raw["properties"], low_memory=False)
    transactions = pd.read_csv(raw["transactions"])
    assert (
        list(properties.columns) == list(kaggle.PROPERTY_NAMES) and len(kaggle.PROPERTY_NAMES) == 58
    )
    assert list(transactions.columns) == ["parcelid", "logerror", "transactiondate"]
    assert (
        properties["parcelid"].is_unique and len(properties) == 3000 and len(transactions) == 1500
    )
    nulls = properties.isna().mean()
    assert nulls["basementsqft"] > 0.98 and nulls["bathroomcnt"] < 0.02
    assert 0.05 < nulls["lotsizesquarefeet"] < 0.2  # a predictor with moderate missingness
    assert (~properties["parcelid"].isin(transactions["parcelid"])).sum() > 1000  # unsold parcels
    sizes = properties["regionidzip"].value_counts()
    assert sizes.max() > 10 * sizes.min()  # very unequal zip sizes
    assert transactions["transactiondate"].is_monotonic_increasing
    assert 0.12 < transactions["logerror"].std() < 0.25


def test_synthetic_is_determined_by_the_seed(tmp_path, raw):
    again = generate(tmp_path / "again")
    other = generate(tmp_path / "other", seed=12)
    for key in ("transactions", "properties", "truth"):
        assert digest(again[key]) == digest(raw[key])
        assert digest(other[key]) != digest(raw[key])


def test_prepared_outputs_are_bit_identical_on_rerun(raw, prepared, tmp_path):
    prep.prepare_all(raw["transactions"], raw["properties"], tmp_path, SETTINGS)
    for path in sorted(prepared.iterdir()):
        assert digest(path) == digest(tmp_path / path.name), path.name


def test_kaggle_scale_sizes_and_config_check():
    assert synthetic.sizes({"scale": "kaggle"}) == (2_985_217, 90_275)
    assert synthetic.sizes({"scale": "custom", "n_properties": 500, "n_transactions": 100}) == (
        500,
        100,
    )
    with pytest.raises(ConfigError, match="zillow.n_transactions"):
        synthetic.sizes({"scale": "custom", "n_properties": 100, "n_transactions": 95})


def test_truth_is_recovered_on_the_prepared_scale(tmp_path):
    """OLS on the prepared training rows, zip effects removed, recovers truth.json's coefficients.

    This fails if the rewrite of the model onto the training-standardized scale were wrong. The
    floor area enters through its identical twin finishedsquarefeet12, and bathroomcnt (correlated
    with the floor area, no effect of its own) has a true coefficient of 0.
    """
    paths = generate(tmp_path / "raw", seed=5, n_properties=40000, n_transactions=20000, n_zips=60)
    chosen = ["finishedsquarefeet12", "lotsizesquarefeet", "yearbuilt", "bathroomcnt"]
    prep.prepare_all(
        paths["transactions"],
        paths["properties"],
        tmp_path,
        dict(SETTINGS, predictors=chosen, imputable_predictor="lotsizesquarefeet"),
    )
    summary = read_json(tmp_path / "predictors.json")
    truth = synthetic.prepared_truth(
        read_json(paths["truth"]), summary, pd.read_parquet(tmp_path / "zip_groups.parquet")
    )
    assert list(truth["betas"]) == summary["predictors"] == chosen
    assert truth["generating_columns"]["finishedsquarefeet12"] == "calculatedfinishedsquarefeet"
    assert truth["betas"]["bathroomcnt"] == 0.0 and truth["predictors_omitted_from_model"] == []
    train = pd.read_parquet(tmp_path / "train.parquet")
    effects = np.array([0.0] + truth["zip_effects_by_index"])[train["zip_index"]]
    nonlinear = train[truth["nonlinear_predictor"]]
    design = np.column_stack([np.ones(len(train)), train[summary["predictors"]], nonlinear**2 - 1])
    target = train["logerror"] - effects
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    se = (
        0.16 / np.sqrt(len(train)) * np.sqrt(np.diag(np.linalg.inv(design.T @ design / len(train))))
    )
    expected = [truth["intercept"], *truth["betas"].values(), truth["nonlinear_quadratic"]]
    assert np.all(np.abs(coef - expected) < 4 * se), (coef, expected, se)
    residual = target - design @ coef
    assert abs(residual.std() - truth["sigma"]) < 0.01


def test_synthetic_twin_has_kaggles_traits(raw):
    """The synthetic twin has Kaggle's traits, and truth.json describes them.

    Identical square-feet and bathroom columns, bathrooms correlated with the floor area,
    heavy-tailed logerror and repeat sales; truth.json describes the noise and the twins.
    """
    properties = pd.read_csv(raw["properties"], low_memory=False)
    for twin, source in synthetic.IDENTICAL_COLUMNS.items():
        both = properties[[twin, source]].dropna()
        assert len(both) > 2000 and (both[twin] == both[source]).all(), twin
        assert (
            properties[twin].isna().mean() != properties[source].isna().mean()
        )  # own null pattern
    r = properties[["bathroomcnt", "calculatedfinishedsquarefeet"]].corr().iloc[0, 1]
    assert 0.65 < r < 0.85
    transactions = pd.read_csv(raw["transactions"])
    assert transactions["parcelid"].duplicated().sum() == round(
        synthetic.REPEAT_SALE_FRACTION * 1500
    )
    truth = read_json(raw["truth"])
    assert (
        truth["noise"]["family"] == "truncated_student_t" and truth["noise"]["sd"] == truth["sigma"]
    )
    assert truth["identical_columns"] == synthetic.IDENTICAL_COLUMNS


def test_heavy_tailed_noise_has_the_stated_sd_and_bound():
    truth = synthetic.Truth()
    noise = truth.noise(np.random.default_rng(0), 400_000)
    assert abs(noise.std() - truth.sigma) < 0.003
    assert np.abs(noise).max() <= truth.noise_bound and np.abs(noise).max() > 2.0
    from scipy.stats import kurtosis

    assert kurtosis(noise) > 10  # a Normal has 0
    normal = synthetic.Truth(noise_df=None).noise(np.random.default_rng(0), 400_000)
    assert abs(kurtosis(normal)) < 0.1 and abs(normal.std() - truth.sigma) < 0.002


def test_prepared_truth_rewrites_the_model_exactly():
    """The generating formula on raw values and truth.json's on the prepared values agree."""
    rng = np.random.default_rng(3)
    raw = synthetic.raw_truth(
        synthetic.Truth(), synthetic.plan(1, 50, 10, 3, synthetic.Truth()), 1, 50, 10
    )
    names = ["yearbuilt", "calculatedfinishedsquarefeet"]  # lotsizesquarefeet left out of the model
    values = {
        "yearbuilt": rng.normal(1950, 30, 200),
        "calculatedfinishedsquarefeet": rng.lognormal(7, 0.6, 200),
        "lotsizesquarefeet": np.full(200, synthetic.MOMENTS["lotsizesquarefeet"][0]),
    }
    means = {
        n: float(values[n].mean()) + 3.0 for n in names
    }  # any scaling, not only the exact moments
    sds = {n: float(values[n].std()) * 1.1 for n in names}
    groups = pd.DataFrame(
        {
            "regionidzip": [int(z) for z in raw["zip_effects"]],
            "zip_index": [1, 2, 3],
            "n_train": [5, 1, 1],
            "n_validation": [0, 0, 0],
        }
    )
    truth = synthetic.prepared_truth(raw, {"predictors": names, "means": means, "sds": sds}, groups)
    assert list(truth["betas"]) == names and truth["predictors_omitted_from_model"] == [
        "lotsizesquarefeet"
    ]
    z = {n: (values[n] - means[n]) / sds[n] for n in names}
    prepared = (
        truth["intercept"]
        + sum(truth["betas"][n] * z[n] for n in names)
        + truth["nonlinear_quadratic"] * (z["yearbuilt"] ** 2 - 1)
    )
    original = synthetic._linear_predictor(synthetic.Truth(), values)
    np.testing.assert_allclose(prepared, original, atol=1e-12)
    effects = list(raw["zip_effects"].values())
    assert truth["zip_effects_by_index"] == effects
    assert truth["intercept_plus_mean_zip_effect"] == pytest.approx(
        truth["intercept"] + (5 * effects[0] + effects[1] + effects[2]) / 7
    )


# --- preparation chain ---------------------------------------------------------------------------


def test_prepared_tables_follow_the_contract(prepared):
    summary = read_json(prepared / "predictors.json")
    predictors = summary["predictors"]
    assert len(predictors) == 3 and not set(predictors) & kaggle.NON_PREDICTORS
    assert set(summary) >= {
        "predictors",
        "means",
        "sds",
        "correlations",
        "n_groups",
        "imputable_predictor",
    }
    train, validation = (
        pd.read_parquet(prepared / f) for f in ("train.parquet", "validation.parquet")
    )
    expected = ["parcelid", "logerror", *predictors, "regionidzip", "zip_index", "zip_seen"]
    for table in (train, validation):
        assert list(table.columns) == expected
        assert table["parcelid"].dtype == "int64" and table["regionidzip"].dtype == "int64"
        assert table["zip_index"].dtype == "int64" and table["zip_seen"].dtype == bool
        assert all(table[p].dtype == "float64" for p in predictors + ["logerror"])
        assert not table[predictors + ["logerror"]].isna().any().any()
    np.testing.assert_allclose(train[predictors].mean(), 0, atol=1e-9)
    np.testing.assert_allclose(train[predictors].std(ddof=0), 1, atol=1e-9)
    assert abs(len(validation) - len(train)) <= 1
    groups = pd.read_parquet(prepared / "zip_groups.parquet")
    assert list(groups.columns) == ["regionidzip", "zip_index", "n_train", "n_validation"]
    assert (
        groups["zip_index"].tolist()
        == list(range(1, len(groups) + 1))
        == sorted(train["zip_index"].unique())
    )
    assert summary["n_groups"] == len(groups) and groups["n_train"].sum() == len(train)
    unseen = ~validation["regionidzip"].isin(train["regionidzip"])
    assert (validation["zip_seen"] == ~unseen).all() and (
        validation.loc[unseen, "zip_index"] == 0
    ).all()
    assert groups["n_validation"].sum() == (~unseen).sum()


def test_split_is_disjoint_and_seeded(prepared, raw, tmp_path):
    split = pd.read_parquet(prepared / "split.parquet")
    assert split["row"].is_unique
    reseeded = dict(SETTINGS, seed=7)
    prep.prepare_all(raw["transactions"], raw["properties"], tmp_path, reseeded)
    other = pd.read_parquet(tmp_path / "split.parquet")
    assert (other["row"] == split["row"]).all() and (other["split"] != split["split"]).any()


def test_missing_table_keeps_rows_missing_the_imputable_predictor(prepared):
    summary = read_json(prepared / "predictors.json")
    imputable = summary["imputable_predictor"]
    assert imputable == "lotsizesquarefeet"  # the chosen predictor with the most nulls
    missing = pd.read_parquet(prepared / "missing.parquet")
    train = pd.read_parquet(prepared / "train.parquet")
    mask = missing[f"{imputable}_missing"]
    assert mask.dtype == bool and mask.sum() > 20
    assert missing.loc[mask, imputable].isna().all() and missing.loc[~mask, imputable].notna().all()
    assert missing["zip_seen"].all() and missing["zip_index"].between(1, summary["n_groups"]).all()
    split = pd.read_parquet(prepared / "split.parquet")
    left_out = prep.unseen_missing_rows(prepared / "split.parquet", prepared / "zip_groups.parquet")
    assert len(missing) + left_out == (split["split"] == "train").sum()
    complete = missing[~mask].drop(columns=f"{imputable}_missing").reset_index(drop=True)
    pd.testing.assert_frame_equal(complete, train)  # same rows, same scaling


def test_predictor_choice_configured_and_ranked(raw, tmp_path):
    configured = dict(
        SETTINGS, predictors=["bedroomcnt", "yearbuilt"], imputable_predictor="yearbuilt"
    )
    prep.prepare_all(raw["transactions"], raw["properties"], tmp_path, configured)
    choice = read_json(tmp_path / "predictor_choice.json")
    assert choice["predictors"] == ["bedroomcnt", "yearbuilt"] and choice["method"] == "configured"
    ranked = [entry["correlation"] for entry in choice["candidate_ranking"]]
    assert len(ranked) > 5 and all(
        abs(a) >= abs(b) for a, b in zip(ranked, ranked[1:], strict=False)
    )
    assert not {entry["column"] for entry in choice["candidate_ranking"]} & kaggle.NON_PREDICTORS


def test_merge_keeps_and_counts_unmatched_transactions(raw, tmp_path):
    transactions = pd.read_csv(raw["transactions"], dtype=str)
    transactions.loc[[0, 5], "parcelid"] = ["999999999", "999999998"]
    transactions.to_csv(tmp_path / "t.csv", index=False)
    report = prep.merge(
        tmp_path / "t.csv", raw["properties"], tmp_path / "m.parquet", tmp_path / "r.json"
    )
    assert report["unmatched_transactions"] == 2 and report["merged_rows"] == 1500
    assert report["unmatched_parcel_ids_sample"] == [999999999, 999999998]
    merged = pd.read_parquet(tmp_path / "m.parquet")
    assert merged.loc[0, "bathroomcnt"] != merged.loc[0, "bathroomcnt"]  # NaN: no property row


def stage_reports(paths: dict) -> dict:
    """The stage reports card.build reads, from the prepared paths."""
    return {
        "merge": paths["merge_report"],
        "columns": paths["columns_report"],
        "choice": paths["choice"],
        "rows": paths["rows_report"],
        "split": paths["split_report"],
        "predictors": paths["predictors"],
    }


def test_data_card_reports_every_stage(prepared, raw):
    paths = prep.chain_paths(prepared)
    truth = synthetic.prepared_truth(
        read_json(raw["truth"]),
        read_json(paths["predictors"]),
        pd.read_parquet(paths["zip_groups"]),
    )
    reports = stage_reports(paths)
    data_card = card.build(
        reports,
        paths["zip_groups"],
        paths["validation"],
        paths["missing"],
        "synthetic",
        {"transactions": raw["transactions"]},
        truth,
        split_path=paths["split"],
    )
    split = pd.read_parquet(paths["split"])
    left_out = int((split["split"] == "train").sum()) - len(pd.read_parquet(paths["missing"]))
    assert data_card["imputable_predictor"]["left_out_zip_without_complete_rows"] == left_out
    skipped = {
        s["column"]: s["duplicates"] for s in data_card["predictor_selection"]["skipped_correlated"]
    }
    assert skipped["finishedsquarefeet12"] == "calculatedfinishedsquarefeet"
    assert data_card["logerror"]["excess_kurtosis"] > 3 and data_card["logerror"]["n"] == 1500
    assert data_card["repeat_sales"]["parcels_sold_more_than_once"] == 2
    rows = [s["rows"] for s in data_card["stages"]]
    assert rows[:3] == [1500, 3000, 1500] and rows[4] == rows[5] + rows[6]
    assert data_card["dropped_columns"]["basementsqft"] > 0.5
    assert set(data_card["groups"]["train_rows_per_group_quantiles"]) >= {"q00", "q50", "q100"}
    text = card.markdown(data_card)
    for needle in (
        "basementsqft",
        "calculatedfinishedsquarefeet",
        "Truth",
        "zip_index 0",
        "| finishedsquarefeet12 | calculatedfinishedsquarefeet | +1.0000 |",
        "excess kurtosis",
        "truncated student t",
        "Repeat sales: 2 parcels",
    ):
        assert needle in text, needle
    json.dumps(data_card, allow_nan=False)  # strict JSON


def test_data_card_counts_missing_rows_of_zips_without_complete_rows(prepared, raw, tmp_path):
    """Missing-data rows whose zip has no complete training row are left out and counted.

    Rows of the missing-data table whose zip has no complete training row are left out, and the card
    counts them: drop the largest zip from the groups and its training rows are counted.
    """
    paths = prep.chain_paths(prepared)
    groups = pd.read_parquet(paths["zip_groups"])
    largest = groups.loc[groups["n_train"].idxmax(), "regionidzip"]
    groups[groups["regionidzip"] != largest].to_parquet(tmp_path / "groups.parquet", index=False)
    split = pd.read_parquet(paths["split"])
    expected = int(((split["split"] == "train") & (split["regionidzip"] == largest)).sum())
    reports = stage_reports(paths)
    data_card = card.build(
        reports,
        tmp_path / "groups.parquet",
        paths["validation"],
        paths["missing"],
        "kaggle",
        {},
        None,
        split_path=paths["split"],
    )
    assert (
        expected > 20
        and data_card["imputable_predictor"]["left_out_zip_without_complete_rows"] == expected
    )


def test_predictor_choice_skips_near_duplicates(prepared):
    """Of each identical pair of columns, the second is skipped and named.

    Default choice: the second of each identical pair (and fullbathcnt, floor of bathroomcnt) is
    skipped and named with the chosen column it duplicates; related but distinct predictors stay.
    """
    choice = read_json(prepared / "predictor_choice.json")
    skipped = {
        s["column"]: (s["duplicates"], s["correlation"]) for s in choice["skipped_correlated"]
    }
    assert len(choice["predictors"]) == 3 and choice["max_predictor_correlation"] == 0.9
    for twin, source in synthetic.IDENTICAL_COLUMNS.items():
        assert {twin, source} & set(choice["predictors"]) and not {twin, source} <= set(
            choice["predictors"]
        )
        loser = twin if twin in skipped else source
        assert skipped[loser][1] == pytest.approx(1.0)
    assert all(abs(r) > 0.9 for _, r in skipped.values())
    table = pd.read_parquet(prepared / "columns.parquet")
    for i, a in enumerate(choice["predictors"]):
        for b in choice["predictors"][i + 1 :]:
            assert abs(prep.pairwise_correlation(table, a, b)) <= 0.9


def test_predictor_choice_threshold_is_configurable(raw, tmp_path):
    """At 1.0 nothing is skipped (the old top-by-correlation rule picks both twins)."""
    prep.prepare_all(
        raw["transactions"],
        raw["properties"],
        tmp_path,
        dict(SETTINGS, max_predictor_correlation=1.0),
    )
    choice = read_json(tmp_path / "predictor_choice.json")
    assert choice["skipped_correlated"] == []
    ranking = [entry["column"] for entry in choice["candidate_ranking"]]
    assert choice["predictors"] == ranking[:3]


def test_configured_near_duplicate_predictors_are_an_error(raw, tmp_path):
    error, written = run_chain_expecting(
        raw,
        tmp_path,
        {"predictors": ["calculatedfinishedsquarefeet", "yearbuilt", "finishedsquarefeet12"]},
    )
    message = str(error)
    assert "zillow.max_predictor_correlation" in message and "'finishedsquarefeet12'" in message
    assert error.column == "finishedsquarefeet12" and "predictor_choice.json" not in written


# --- bad input -----------------------------------------------------------------------------------


def rewrite(path: Path, target: Path, change) -> Path:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    changed = change(table)  # edits in place, or returns a new table
    (table if changed is None else changed).to_csv(target, index=False)
    return target


def expect_merge_error(transactions, properties, tmp_path, *needles):
    outputs = [tmp_path / "out" / "merged.parquet", tmp_path / "out" / "merge_report.json"]
    with pytest.raises(InputError) as caught:
        prep.merge(transactions, properties, *outputs)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)
    assert not any(p.exists() for p in outputs)  # no partial outputs
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    return caught.value


def test_missing_file(raw, tmp_path):
    error = expect_merge_error(
        tmp_path / "nowhere.csv",
        raw["properties"],
        tmp_path,
        "nowhere.csv",
        "not found",
        "parcelid",
    )
    assert error.path.endswith("nowhere.csv")
    expect_merge_error(
        raw["transactions"], tmp_path / "props.csv", tmp_path, "props.csv", "not found"
    )


@pytest.mark.parametrize("column", ["parcelid", "logerror"])
def test_missing_required_column(raw, tmp_path, column):
    bad = rewrite(raw["transactions"], tmp_path / "t.csv", lambda t: t.drop(columns=column))
    error = expect_merge_error(
        bad, raw["properties"], tmp_path, "t.csv", f"column '{column}'", "missing column"
    )
    assert error.column == column


def test_missing_property_columns_are_all_named(raw, tmp_path):
    bad = rewrite(
        raw["properties"], tmp_path / "p.csv", lambda t: t.drop(columns=["yearbuilt", "taxamount"])
    )
    expect_merge_error(raw["transactions"], bad, tmp_path, "p.csv", "yearbuilt, taxamount")


def test_non_numeric_logerror(raw, tmp_path):
    bad = rewrite(
        raw["transactions"],
        tmp_path / "t.csv",
        lambda t: t.__setitem__("logerror", ["0.1"] * 1499 + ["big"]),
    )
    error = expect_merge_error(
        bad, raw["properties"], tmp_path, "t.csv", "column 'logerror'", "expected numbers", "'big'"
    )
    assert error.column == "logerror"


def first_sold_row(raw) -> int:
    """Index of the first property row that has a transaction (only those are parsed in full)."""
    sold = pd.read_csv(raw["transactions"])["parcelid"]
    return int(
        np.flatnonzero(pd.read_csv(raw["properties"], usecols=["parcelid"])["parcelid"].isin(sold))[
            0
        ]
    )


def test_out_of_range_value_names_row_and_column(raw, tmp_path):
    index = first_sold_row(raw)

    def change(table):
        table.loc[index, "yearbuilt"] = "3015"

    bad = rewrite(raw["properties"], tmp_path / "p.csv", change)
    error = expect_merge_error(
        raw["transactions"], bad, tmp_path, "column 'yearbuilt'", "[1700, 2100]", "3015"
    )
    assert error.row == index + 1


def test_malformed_property_value_names_row_and_column(raw, tmp_path):
    index = first_sold_row(raw)

    def change(table):
        table.loc[index, "taxamount"] = "12,5"  # a decimal comma, quoted by the CSV writer

    bad = rewrite(raw["properties"], tmp_path / "p.csv", change)
    error = expect_merge_error(
        raw["transactions"], bad, tmp_path, "column 'taxamount'", "expected numbers", "'12,5'"
    )
    assert error.row == index + 1


def test_every_malformed_column_is_named(raw, tmp_path):
    def change(table):
        table.loc[4, "logerror"] = "high"
        table.loc[9, "parcelid"] = "12.5"

    bad = rewrite(raw["transactions"], tmp_path / "t.csv", change)
    error = expect_merge_error(
        bad,
        raw["properties"],
        tmp_path,
        "row 10, column 'parcelid'",
        "'12.5'",
        "column 'logerror', row 5: expected numbers in [-10, 10], got 'high'",
    )
    assert error.column == "parcelid" and error.row == 10


def test_malformed_parcel_id_in_properties(raw, tmp_path):
    def change(table):
        table.loc[7, "parcelid"] = "P-1234"

    bad = rewrite(raw["properties"], tmp_path / "p.csv", change)
    error = expect_merge_error(
        raw["transactions"], bad, tmp_path, "p.csv", "column 'parcelid'", "P-1234"
    )
    assert error.row == 8


def test_duplicate_parcel_in_properties(raw, tmp_path):
    def change(table):
        table.loc[10, "parcelid"] = table.loc[2, "parcelid"]

    bad = rewrite(raw["properties"], tmp_path / "p.csv", change)
    error = expect_merge_error(
        raw["transactions"], bad, tmp_path, "p.csv", "column 'parcelid'", "once", "rows 3 and 11"
    )
    assert error.row == 11


def test_no_transaction_matches_a_property(raw, tmp_path):
    bad = rewrite(
        raw["transactions"],
        tmp_path / "t.csv",
        lambda t: t.__setitem__("parcelid", [str(i) for i in range(1, len(t) + 1)]),
    )
    expect_merge_error(
        bad, raw["properties"], tmp_path, "t.csv", "column 'parcelid'", "no transaction"
    )


@pytest.mark.parametrize("which", ["transactions", "properties"])
def test_empty_file(raw, tmp_path, which):
    empty = tmp_path / f"{which}.csv"
    empty.write_text("")
    files = {**{k: raw[k] for k in ("transactions", "properties")}, which: empty}
    expect_merge_error(
        files["transactions"], files["properties"], tmp_path, f"{which}.csv", "empty"
    )


def test_header_only_file(raw, tmp_path):
    header_only = tmp_path / "t.csv"
    header_only.write_text("parcelid,logerror,transactiondate\n")
    expect_merge_error(header_only, raw["properties"], tmp_path, "t.csv", "no rows")


def run_chain_expecting(raw, tmp_path, settings, transactions=None, properties=None):
    with pytest.raises(InputError) as caught:
        prep.prepare_all(
            transactions or raw["transactions"],
            properties or raw["properties"],
            tmp_path,
            dict(SETTINGS, **settings),
        )
    return caught.value, {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize(
    "name,needle",
    [
        ("notacolumn", "not a Kaggle property column"),
        ("parcelid", "id, code, date or text"),
        ("garagecarcnt", "dropped for its null fraction"),
    ],
)
def test_configured_predictor_that_cannot_be_used(raw, tmp_path, name, needle):
    error, written = run_chain_expecting(raw, tmp_path, {"predictors": ["yearbuilt", name]})
    assert needle in str(error) and error.column == name and "zillow.predictors" in str(error)
    assert "predictor_choice.json" not in written


def test_configured_predictor_all_null(raw, tmp_path):
    bad = rewrite(raw["properties"], tmp_path / "p.csv", lambda t: t.__setitem__("roomcnt", ""))
    out = tmp_path / "out"
    error, written = run_chain_expecting(
        raw, out, {"predictors": ["roomcnt"], "max_null_fraction": 1.0}, properties=bad
    )
    assert "null in every merged transaction" in str(error) and error.column == "roomcnt"
    assert "predictor_choice.json" not in written


def test_nothing_left_after_dropping_rows(raw, tmp_path):
    bad = rewrite(raw["properties"], tmp_path / "p.csv", lambda t: t.__setitem__("regionidzip", ""))
    error, written = run_chain_expecting(
        raw, tmp_path / "out", {"max_null_fraction": 1.0}, properties=bad
    )
    assert "no row is left" in str(error) and "regionidzip" in str(error)
    assert "rows.parquet" not in written and "rows_report.json" not in written


def test_no_column_left_after_dropping_sparse_columns(raw, tmp_path):
    index = first_sold_row(raw)

    def change(table):
        table.loc[index, table.columns[1:]] = ""  # a sold parcel with nothing but its id

    bad = rewrite(raw["properties"], tmp_path / "p.csv", change)
    error, written = run_chain_expecting(
        raw, tmp_path / "out", {"max_null_fraction": 0.0}, properties=bad
    )
    assert "no numeric property column" in str(error) and "zillow.max_null_fraction" in str(error)
    assert "merged.parquet" in str(error)
    assert "columns.parquet" not in written and "columns_report.json" not in written


def test_split_with_fewer_than_two_rows(raw, tmp_path):
    bad = rewrite(raw["transactions"], tmp_path / "t.csv", lambda t: t.head(3))
    error, written = run_chain_expecting(
        raw, tmp_path / "out", {"predictors": ["yearbuilt"]}, transactions=bad
    )
    assert "at least 2" in str(error) and "rows.parquet" in str(error)
    assert "split.parquet" not in written and "train.parquet" not in written


def test_kaggle_dir_checks():
    with pytest.raises(ConfigError, match="zillow.kaggle_dir"):
        kaggle.kaggle_files(None, "/")
    with pytest.raises(InputError, match="train_2016_v2.csv: file not found"):
        kaggle.kaggle_files("/nonexistent-kaggle", "/")
    assert kaggle.kaggle_files(None, "/", check=False) == {}
