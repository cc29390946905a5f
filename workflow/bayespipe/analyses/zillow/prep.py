"""The Zillow preparation chain, one function per Snakemake rule.

merge -> drop sparse columns -> choose predictors -> drop incomplete rows -> split ->
zip groups -> standardize (train / validation) and the missing-data table.

The zip-code grouping is built after the split because group indices 1..G number the zips seen in
training; validation rows of zips never seen in training get ``zip_index`` 0 and
``zip_seen = False``, and models give them the population intercept.

Each function reads its inputs, raises InputError for anything a user must fix, and writes its
outputs atomically (so a failure leaves nothing behind); it returns a small report for the data
card.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.analyses.zillow import kaggle
from bayespipe.errors import InputError
from bayespipe.io import read_json, write_json, write_parquet

log = logging.getLogger(__name__)

PARCEL, TARGET, ZIP = kaggle.PARCEL, kaggle.TARGET, kaggle.ZIP
ROW = "row"  # position of the transaction in train_2016_v2.csv (0-based): parcel ids repeat
SPLIT = "split"
PROTECTED = (PARCEL, TARGET, kaggle.DATE, ZIP)  # never dropped for sparsity: the chain needs them
STREAM_SPLIT = 2  # SeedSequence stream of the split (the generator uses 0 and 1)


def missing_mask_column(predictor: str) -> str:
    return f"{predictor}_missing"


# --- merge ----------------------------------------------------------------------------------------


def merge(transactions_path, properties_path, merged_path, report_path) -> dict:
    """Left-join the transactions to the properties on parcelid.

    Unmatched sales are kept and counted.
    """
    transactions = kaggle.read_transactions(transactions_path)
    scan = kaggle.scan_properties(properties_path, transactions[PARCEL].to_numpy())
    matched = transactions[PARCEL].isin(scan.table[PARCEL])
    if not matched.any():
        raise InputError(
            transactions_path,
            f"no transaction's parcel id appears in {properties_path} "
            "(expected the properties of the sold parcels)",
            column=PARCEL,
        )
    merged = transactions.merge(scan.table, on=PARCEL, how="left", validate="many_to_one")
    merged.insert(0, ROW, np.arange(len(merged), dtype="int64"))
    unmatched = transactions.loc[~matched, PARCEL]
    if len(unmatched):
        log.warning(
            "%d of %d transactions have no property row (first parcel ids: %s)",
            len(unmatched),
            len(transactions),
            unmatched.head(5).tolist(),
        )
    report = {
        "transactions": len(transactions),
        "properties": scan.n_rows,
        "merged_rows": len(merged),
        "matched_transactions": int(matched.sum()),
        "unmatched_transactions": int(len(unmatched)),
        "unmatched_parcel_ids_sample": unmatched.head(20).astype(int).tolist(),
        "columns": len(merged.columns) - 1,
        # Kaggle's traits the models meet: parcels sold more than once, heavy-tailed logerror
        "repeat_sales": int(len(transactions) - transactions[PARCEL].nunique()),
        "parcels_sold_more_than_once": int((transactions[PARCEL].value_counts() > 1).sum()),
        "logerror": logerror_summary(transactions[TARGET].to_numpy(float)),
    }
    write_parquet(merged, merged_path)
    write_json(report_path, report)
    return report


TAIL_PROBABILITIES = (0.001, 0.01, 0.5, 0.99, 0.999)


def logerror_summary(values: np.ndarray) -> dict:
    """Spread and tails of logerror.

    A Normal with the same sd has excess kurtosis 0 and its 0.1% / 99.9% quantiles at -+3.09 sd.
    """
    from scipy.stats import kurtosis

    values = values[np.isfinite(values)]
    return {
        "n": int(len(values)),
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
        "min": float(values.min()),
        "max": float(values.max()),
        "excess_kurtosis": float(kurtosis(values)) if len(values) > 3 else None,
        "quantiles": {f"{p:g}": float(np.quantile(values, p)) for p in TAIL_PROBABILITIES},
    }


# --- drop sparse columns --------------------------------------------------------------------------


def drop_sparse_columns(merged_path, max_null_fraction: float, table_path, report_path) -> dict:
    """Drop columns whose null fraction over the merged transactions exceeds the threshold."""
    merged = pd.read_parquet(merged_path)
    fractions = merged.isna().mean()
    dropped = {
        c: float(f) for c, f in fractions.items() if f > max_null_fraction and c not in PROTECTED
    }
    kept = merged.drop(columns=list(dropped))
    if not [
        c for c in kept.columns if c in kaggle.NUMERIC_PROPERTIES and c not in kaggle.NON_PREDICTORS
    ]:
        raise InputError(
            merged_path,
            f"no numeric property column has a null fraction <= {max_null_fraction} "
            "(zillow.max_null_fraction); nothing is left to predict with",
        )
    report = {
        "max_null_fraction": max_null_fraction,
        "null_fractions": {c: float(f) for c, f in fractions.items() if c != ROW},
        "dropped": dropped,
        "kept": [c for c in kept.columns if c != ROW],
    }
    write_parquet(kept, table_path)
    write_json(report_path, report)
    return report


# --- choose predictors ----------------------------------------------------------------------------


def candidate_columns(table: pd.DataFrame) -> list[str]:
    """Numeric property columns that may be predictors: never ids, codes, dates or the target."""
    return [
        c
        for c in table.columns
        if c in kaggle.NUMERIC_PROPERTIES and c not in kaggle.NON_PREDICTORS
    ]


def correlations(table: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """Pearson correlation of each column with logerror over rows where both are present."""
    result = {}
    target = table[TARGET].to_numpy(float)
    for column in columns:
        values = table[column].to_numpy(float)
        both = ~np.isnan(values) & ~np.isnan(target)
        if both.sum() < 3 or np.std(values[both]) == 0 or np.std(target[both]) == 0:
            continue  # constant or nearly absent: no correlation to rank by
        result[column] = float(np.corrcoef(values[both], target[both])[0, 1])
    return result


def pairwise_correlation(table: pd.DataFrame, a: str, b: str) -> float:
    """Pearson correlation of two columns over rows where both are present (NaN if undefined)."""
    x, y = table[a].to_numpy(float), table[b].to_numpy(float)
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 3 or np.std(x[both]) == 0 or np.std(y[both]) == 0:
        return float("nan")
    return float(np.corrcoef(x[both], y[both])[0, 1])


def select_distinct(
    table: pd.DataFrame, order: list[str], n_predictors: int, max_correlation: float
) -> tuple[list[str], list[dict]]:
    """Walk the ranking, skipping near-copies of an already chosen predictor.

    Walk the ranking, skipping a candidate whose |correlation| with an already chosen predictor
    exceeds ``max_correlation``: two near-copies of one measurement leave their coefficients
    unidentified (only their sum is), whatever the sampler.
    """
    chosen, skipped = [], []
    for candidate in order:
        if len(chosen) == n_predictors:
            break
        pairs = {c: pairwise_correlation(table, candidate, c) for c in chosen}
        worst = max(
            pairs, key=lambda c: abs(pairs[c]) if np.isfinite(pairs[c]) else -1.0, default=None
        )
        if worst is not None and abs(pairs[worst]) > max_correlation:
            skipped.append({"column": candidate, "duplicates": worst, "correlation": pairs[worst]})
        else:
            chosen.append(candidate)
    return chosen, skipped


def _check_distinct(table: pd.DataFrame, names: list[str], max_correlation: float, path) -> None:
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            r = pairwise_correlation(table, first, second)
            if abs(r) > max_correlation:
                raise InputError(
                    path,
                    f"zillow.predictors names '{first}' and '{second}', whose correlation "
                    f"{r:+.3f} exceeds zillow.max_predictor_correlation {max_correlation} "
                    "(their effects cannot be told apart; drop one or raise the threshold)",
                    column=second,
                )


def _check_configured(table: pd.DataFrame, names: list[str], path, null_report: dict) -> None:
    for name in names:
        where = "zillow.predictors"
        if name not in kaggle.PROPERTY_NAMES:
            raise InputError(
                path,
                f"{where} names '{name}', which is not a Kaggle property column "
                "(expected one of the numeric columns of properties_2016.csv)",
                column=name,
            )
        if name in kaggle.NON_PREDICTORS or name not in kaggle.NUMERIC_PROPERTIES:
            raise InputError(
                path,
                f"{where} names '{name}', an id, code, date or text column "
                "(expected a numeric property column)",
                column=name,
            )
        fraction = null_report["null_fractions"].get(name, 1.0)
        if fraction >= 1.0:
            raise InputError(
                path,
                f"{where} names '{name}', which is null in every merged transaction "
                "(expected some values)",
                column=name,
            )
        if name not in table.columns:
            raise InputError(
                path,
                f"{where} names '{name}', dropped for its null fraction {fraction:.3f} > "
                f"zillow.max_null_fraction {null_report['max_null_fraction']} "
                "(raise the threshold or choose another column)",
                column=name,
            )


def choose_predictors(
    table_path,
    null_report_path,
    n_predictors: int,
    predictors: list[str] | None,
    imputable: str | None,
    choice_path,
    max_correlation: float = 0.9,
) -> dict:
    """The fixed-effect predictors and the imputable one.

    The fixed-effect predictors (configured, or the most correlated with logerror among mutually
    distinct candidates) and the imputable one.
    """
    table = pd.read_parquet(table_path)
    null_report = read_json(null_report_path)
    candidates = candidate_columns(table)
    ranked = correlations(table, candidates)
    skipped = []
    if predictors:
        _check_configured(table, list(predictors), table_path, null_report)
        if len(set(predictors)) != len(predictors):
            raise InputError(
                table_path, f"zillow.predictors lists a column twice: {list(predictors)}"
            )
        _check_distinct(table, list(predictors), max_correlation, table_path)
        chosen = list(predictors)
        for name in chosen:
            ranked.setdefault(name, correlations(table, [name]).get(name, float("nan")))
    else:
        order = sorted(ranked, key=lambda c: (-abs(ranked[c]), c))
        chosen, skipped = select_distinct(table, order, n_predictors, max_correlation)
        if len(chosen) < n_predictors:
            raise InputError(
                table_path,
                f"only {len(chosen)} usable numeric column(s) {chosen} for "
                f"zillow.n_predictors = {n_predictors} ({len(skipped)} more skipped: "
                f"correlation with a chosen one above "
                f"zillow.max_predictor_correlation {max_correlation})",
            )
    fractions = {c: float(table[c].isna().mean()) for c in chosen}
    if imputable is None:
        imputable = max(chosen, key=lambda c: (fractions[c], -chosen.index(c)))
    elif imputable not in chosen:
        raise InputError(
            table_path,
            f"zillow.imputable_predictor '{imputable}' is not one of the chosen "
            f"predictors {chosen}",
            column=imputable,
        )
    choice = {
        "predictors": chosen,
        "method": "configured"
        if predictors
        else (
            f"top {n_predictors} by absolute correlation with logerror, "
            "skipping any candidate whose "
            f"absolute correlation with an already chosen predictor exceeds {max_correlation}"
        ),
        "correlations": {c: ranked[c] for c in chosen},
        "max_predictor_correlation": max_correlation,
        # in ranking order: the candidate, the chosen predictor it duplicates, their correlation
        "skipped_correlated": skipped,
        # a list: JSON objects are written with sorted keys, and the ranking is the point here
        "candidate_ranking": [
            {"column": c, "correlation": r}
            for c, r in sorted(ranked.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        ],
        "null_fractions": fractions,
        "imputable_predictor": imputable,
    }
    write_json(choice_path, choice)
    return choice


# --- drop incomplete rows -------------------------------------------------------------------------


def drop_incomplete_rows(table_path, choice_path, rows_path, report_path) -> dict:
    """Keep rows with logerror, a zip and every predictor.

    Rows missing only the imputable predictor are kept too, flagged, for the missing-data table
    (they never enter train / validation).
    """
    table = pd.read_parquet(table_path)
    choice = read_json(choice_path)
    predictors, imputable = choice["predictors"], choice["imputable_predictor"]
    required = [TARGET, ZIP] + [p for p in predictors if p != imputable]
    null_counts = {c: int(table[c].isna().sum()) for c in [TARGET, ZIP, *predictors]}
    usable = table[required].notna().all(axis=1)
    rows = table.loc[usable, [ROW, PARCEL, TARGET, *predictors, ZIP]].copy()
    rows[ZIP] = rows[ZIP].astype("int64")
    rows[missing_mask_column(imputable)] = rows[imputable].isna()
    complete = int((~rows[missing_mask_column(imputable)]).sum())
    if complete == 0:
        raise InputError(
            table_path,
            f"no row is left after dropping rows with nulls in {', '.join(required + [imputable])}"
            f" (null counts: {null_counts}; expected some complete rows)",
        )
    report = {
        "rows_in": len(table),
        "null_counts": null_counts,
        "rows_complete": complete,
        "rows_missing_imputable": int(len(rows) - complete),
        "rows_dropped": int(len(table) - len(rows)),
    }
    write_parquet(rows.reset_index(drop=True), rows_path)
    write_json(report_path, report)
    return report


# --- split ----------------------------------------------------------------------------------------


def _assign(n: int, validation_fraction: float, rng: np.random.Generator) -> np.ndarray:
    n_validation = int(round(validation_fraction * n))
    labels = np.array(["train"] * (n - n_validation) + ["validation"] * n_validation, dtype=object)
    return labels[rng.permutation(n)]


def split(
    rows_path, choice_path, validation_fraction: float, seed: int, split_path, report_path
) -> dict:
    """Seeded split of the complete rows.

    The rows missing the imputable predictor are split the same way with their own draw, so the
    missing-data table gets its training share.
    """
    rows = pd.read_parquet(rows_path)
    imputable = read_json(choice_path)["imputable_predictor"]
    missing = rows[missing_mask_column(imputable)].to_numpy()
    n_complete = int((~missing).sum())
    n_validation = int(round(validation_fraction * n_complete))
    if n_complete - n_validation < 2 or n_validation < 2:
        raise InputError(
            rows_path,
            f"{n_complete} complete rows split with zillow.validation_fraction = "
            f"{validation_fraction} leave {n_complete - n_validation} training and "
            f"{n_validation} validation rows (expected at least 2 in each)",
        )
    complete_rng, missing_rng = (np.random.default_rng([seed, STREAM_SPLIT, k]) for k in (0, 1))
    labels = np.empty(len(rows), dtype=object)
    labels[~missing] = _assign(n_complete, validation_fraction, complete_rng)
    labels[missing] = _assign(int(missing.sum()), validation_fraction, missing_rng)
    rows[SPLIT] = labels.astype(str)
    counts = rows[~missing][SPLIT].value_counts()
    report = {
        "seed": seed,
        "validation_fraction": validation_fraction,
        "train": int(counts.get("train", 0)),
        "validation": int(counts.get("validation", 0)),
        "missing_table_train": int((rows[SPLIT] == "train").sum()),
    }
    write_parquet(rows, split_path)
    write_json(report_path, report)
    return report


# --- zip groups -----------------------------------------------------------------------------------


def zip_groups(split_path, choice_path, groups_path) -> pd.DataFrame:
    """Zips seen in complete training rows, numbered 1..G by zip code, with their row counts."""
    rows = pd.read_parquet(split_path)
    imputable = read_json(choice_path)["imputable_predictor"]
    rows = rows[~rows[missing_mask_column(imputable)]]
    train = rows.loc[rows[SPLIT] == "train", ZIP].value_counts()
    validation = rows.loc[rows[SPLIT] == "validation", ZIP].value_counts()
    codes = np.sort(train.index.to_numpy())
    groups = pd.DataFrame(
        {
            ZIP: codes.astype("int64"),
            "zip_index": np.arange(1, len(codes) + 1, dtype="int64"),
            "n_train": train.reindex(codes).to_numpy().astype("int64"),
            "n_validation": validation.reindex(codes, fill_value=0).to_numpy().astype("int64"),
        }
    )
    write_parquet(groups, groups_path)
    return groups


# --- standardize ----------------------------------------------------------------------------------


def _with_groups(frame: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    index = frame[ZIP].map(dict(zip(groups[ZIP], groups["zip_index"], strict=True)))
    frame["zip_index"] = index.fillna(0).astype("int64")
    frame["zip_seen"] = index.notna().to_numpy()
    return frame


def _standardized(
    rows: pd.DataFrame, predictors: list[str], means: dict, sds: dict
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {PARCEL: rows[PARCEL].astype("int64"), TARGET: rows[TARGET].astype("float64")}
    )
    for name in predictors:
        frame[name] = ((rows[name] - means[name]) / sds[name]).astype("float64")
    frame[ZIP] = rows[ZIP].astype("int64")
    return frame.reset_index(drop=True)


def training_statistics(train: pd.DataFrame, predictors: list[str], path) -> tuple[dict, dict]:
    """Means and standard deviations (ddof 0) of the training rows: the only scaling ever fitted."""
    means = {p: float(train[p].mean()) for p in predictors}
    sds = {p: float(train[p].std(ddof=0)) for p in predictors}
    constant = [p for p, s in sds.items() if not s > 0]
    if constant:
        raise InputError(
            path,
            f"predictor(s) {constant} are constant in the training rows "
            "(expected some spread to standardize)",
            column=constant[0],
        )
    return means, sds


def standardize(
    split_path, groups_path, choice_path, train_path, validation_path, predictors_path
) -> dict:
    rows = pd.read_parquet(split_path)
    groups = pd.read_parquet(groups_path)
    choice = read_json(choice_path)
    predictors, imputable = choice["predictors"], choice["imputable_predictor"]
    complete = rows[~rows[missing_mask_column(imputable)]]
    train_rows = complete[complete[SPLIT] == "train"]
    means, sds = training_statistics(train_rows, predictors, split_path)
    train = _with_groups(_standardized(train_rows, predictors, means, sds), groups)
    validation = _with_groups(
        _standardized(complete[complete[SPLIT] == "validation"], predictors, means, sds), groups
    )
    summary = {
        "predictors": predictors,
        "means": means,
        "sds": sds,
        "correlations": choice["correlations"],
        "n_groups": len(groups),
        "imputable_predictor": imputable,
        "standardization": "(x - training mean) / training sd (ddof 0)",
        "n_train": len(train),
        "n_validation": len(validation),
        "n_validation_unseen_zip": int((~validation["zip_seen"]).sum()),
    }
    write_parquet(train, train_path)
    write_parquet(validation, validation_path)
    write_json(predictors_path, summary)
    return summary


def missing_table(split_path, groups_path, predictors_path, missing_path) -> pd.DataFrame:
    """Standardized training rows whose imputable predictor is missing.

    Training rows, standardized like train.parquet, keeping those whose imputable predictor is
    missing (NaN there) with a mask column.

    Every row has a zip group 1..G: a row missing the predictor in a zip that no complete training
    row has would need a group of its own, so it is left out (the data card counts them).
    """
    rows = pd.read_parquet(split_path)
    groups = pd.read_parquet(groups_path)
    summary = read_json(predictors_path)
    predictors, imputable = summary["predictors"], summary["imputable_predictor"]
    train_rows = rows[rows[SPLIT] == "train"]
    table = _with_groups(
        _standardized(train_rows, predictors, summary["means"], summary["sds"]), groups
    )
    mask = missing_mask_column(imputable)
    table[mask] = train_rows[mask].to_numpy().astype(bool)
    table = table[table["zip_seen"]].reset_index(drop=True)
    write_parquet(table, missing_path)
    return table


def unseen_missing_rows(split_path, groups_path) -> int:
    """Training rows left out of the missing-data table because their zip has no complete row."""
    rows = pd.read_parquet(split_path, columns=[ZIP, SPLIT])
    groups = pd.read_parquet(groups_path, columns=[ZIP])
    return int(((rows[SPLIT] == "train") & ~rows[ZIP].isin(groups[ZIP])).sum())


def prepare_all(transactions_path, properties_path, folder, settings: dict) -> dict:
    """The whole chain in one process (benchmarks and tests); the workflow runs it rule by rule."""
    folder = Path(folder)
    paths = chain_paths(folder)
    reports = {
        "merge": merge(transactions_path, properties_path, paths["merged"], paths["merge_report"])
    }
    reports["columns"] = drop_sparse_columns(
        paths["merged"], settings["max_null_fraction"], paths["columns"], paths["columns_report"]
    )
    choose_predictors(
        paths["columns"],
        paths["columns_report"],
        settings["n_predictors"],
        settings.get("predictors"),
        settings.get("imputable_predictor"),
        paths["choice"],
        settings.get("max_predictor_correlation", 0.9),
    )
    reports["rows"] = drop_incomplete_rows(
        paths["columns"], paths["choice"], paths["rows"], paths["rows_report"]
    )
    reports["split"] = split(
        paths["rows"],
        paths["choice"],
        settings["validation_fraction"],
        settings["seed"],
        paths["split"],
        paths["split_report"],
    )
    zip_groups(paths["split"], paths["choice"], paths["zip_groups"])
    reports["standardize"] = standardize(
        paths["split"],
        paths["zip_groups"],
        paths["choice"],
        paths["train"],
        paths["validation"],
        paths["predictors"],
    )
    missing_table(paths["split"], paths["zip_groups"], paths["predictors"], paths["missing"])
    return reports


def chain_paths(folder: Path) -> dict[str, Path]:
    """File names of the chain inside ``data/`` (the rules use the same names)."""
    names = {
        "merged": "merged.parquet",
        "merge_report": "merge_report.json",
        "columns": "columns.parquet",
        "columns_report": "columns_report.json",
        "choice": "predictor_choice.json",
        "rows": "rows.parquet",
        "rows_report": "rows_report.json",
        "split": "split.parquet",
        "split_report": "split_report.json",
        "zip_groups": "zip_groups.parquet",
        "train": "train.parquet",
        "validation": "validation.parquet",
        "predictors": "predictors.json",
        "missing": "missing.parquet",
    }
    return {key: Path(folder) / name for key, name in names.items()}
