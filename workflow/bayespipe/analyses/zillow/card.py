"""The data card of the prepared Zillow data: what each stage kept, as JSON and as Markdown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayespipe.analyses.zillow.prep import missing_mask_column, unseen_missing_rows
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import atomic_path, read_json, write_json

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
UNSEEN_ZIP_NOTE = (
    "Zip codes are numbered 1..G in the order of their codes, over the zips of the training rows. "
    "Validation rows whose zip never occurs in training keep their rows, with zip_index 0 and "
    "zip_seen false; the random-effects models predict them with the population intercept "
    "(the zip effect's prior mean, 0)."
)


SKIPPED_NOTE = (
    "Candidates are taken in order of absolute correlation with logerror; one whose absolute "
    "correlation (rows where both are present) with an already chosen predictor exceeds "
    "max_predictor_correlation is skipped: near-copies of one measurement (Kaggle's "
    "finishedsquarefeet12 and calculatedfinishedsquarefeet, calculatedbathnbr and bathroomcnt) "
    "leave only the sum of their coefficients identified."
)
REPEAT_NOTE = (
    "A parcel sold twice in 2016 has one row per sale (same property values, own logerror); rows "
    "are split at random, so its sales may fall on both sides of the train / validation split."
)
TAILS_NOTE = (
    "The Stan models' likelihood is Normal: a Normal with this sd puts its 0.1% and 99.9% "
    "quantiles at mean -+ 3.09 sd and has excess kurtosis 0. Heavier tails show in each fit's "
    "tail_quantiles.json and posterior predictive figure."
)


def build(
    reports: dict,
    groups_path,
    validation_path,
    missing_path,
    source: str,
    raw_files: dict,
    truth: dict | None,
    split_path=None,
) -> dict:
    """Assemble the card from the stage reports (paths of their JSON files, keyed by stage)."""
    merge, columns, choice = (read_json(reports[k]) for k in ("merge", "columns", "choice"))
    rows, split, predictors = (read_json(reports[k]) for k in ("rows", "split", "predictors"))
    groups = pd.read_parquet(groups_path)
    validation = pd.read_parquet(validation_path, columns=["regionidzip", "zip_seen"])
    missing = pd.read_parquet(missing_path)
    imputable = predictors["imputable_predictor"]
    unseen = validation[~validation["zip_seen"]]
    return {
        "source": source,
        "raw_files": {k: str(v) for k, v in raw_files.items()},
        "stages": [
            {"stage": "transactions (train_2016_v2.csv)", "rows": merge["transactions"]},
            {"stage": "properties (properties_2016.csv)", "rows": merge["properties"]},
            {
                "stage": "merge: left join on parcelid",
                "rows": merge["merged_rows"],
                "unmatched_transactions": merge["unmatched_transactions"],
            },
            {
                "stage": "drop columns with null fraction > max_null_fraction",
                "rows": merge["merged_rows"],
                "columns": len(columns["kept"]),
                "columns_dropped": len(columns["dropped"]),
            },
            {
                "stage": "drop rows with nulls in logerror, regionidzip or a predictor",
                "rows": rows["rows_complete"],
            },
            {"stage": "train split", "rows": split["train"]},
            {"stage": "validation split", "rows": split["validation"]},
            {
                "stage": f"missing-data table (training rows, {imputable} may be missing)",
                "rows": len(missing),
            },
        ],
        "unmatched_parcel_ids_sample": merge["unmatched_parcel_ids_sample"],
        "max_null_fraction": columns["max_null_fraction"],
        "dropped_columns": dict(sorted(columns["dropped"].items(), key=lambda kv: -kv[1])),
        "null_fractions": columns["null_fractions"],
        "predictor_method": choice["method"],
        "predictor_selection": {
            "max_predictor_correlation": choice.get("max_predictor_correlation"),
            "skipped_correlated": choice.get("skipped_correlated", []),
            "note": SKIPPED_NOTE,
        },
        "logerror": merge.get("logerror"),
        "repeat_sales": {
            "transactions_of_a_parcel_sold_before": merge.get("repeat_sales"),
            "parcels_sold_more_than_once": merge.get("parcels_sold_more_than_once"),
            "note": REPEAT_NOTE,
        },
        "predictors": [
            {
                "name": p,
                "correlation_with_logerror": choice["correlations"][p],
                "null_fraction_merged": choice["null_fractions"][p],
                "train_mean": predictors["means"][p],
                "train_sd": predictors["sds"][p],
            }
            for p in predictors["predictors"]
        ],
        "imputable_predictor": {
            "name": imputable,
            "missing_in_training_rows": int(missing[missing_mask_column(imputable)].sum()),
            "left_out_zip_without_complete_rows": None
            if split_path is None
            else unseen_missing_rows(split_path, groups_path),
        },
        "row_null_counts": rows["null_counts"],
        "split": split,
        "groups": {
            "n_groups": int(len(groups)),
            "train_rows_per_group_quantiles": {
                f"q{int(q * 100):02d}": float(np.quantile(groups["n_train"], q)) for q in QUANTILES
            }
            if len(groups)
            else {},
            "validation_rows_unseen_zip": int(len(unseen)),
            "validation_zips_unseen": int(unseen["regionidzip"].nunique()),
            "note": UNSEEN_ZIP_NOTE,
        },
        "truth": truth,
    }


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def markdown(card: dict) -> str:
    lines = [f"# Zillow data card ({card['source']} source)", "", "## Rows after each stage", ""]
    lines += _table(["stage", "rows"], [[s["stage"], f"{s['rows']:,}"] for s in card["stages"]])
    lines += [
        "",
        f"Unmatched transactions (no property row): {card['stages'][2]['unmatched_transactions']}.",
        "",
        f"## Dropped columns (null fraction > {card['max_null_fraction']})",
        "",
    ]
    lines += _table(
        ["column", "null fraction"], [[c, f"{f:.3f}"] for c, f in card["dropped_columns"].items()]
    )
    lines += ["", f"## Predictors ({card['predictor_method']})", ""]
    lines += _table(
        ["predictor", "correlation with logerror", "null fraction", "train mean", "train sd"],
        [
            [
                p["name"],
                f"{p['correlation_with_logerror']:+.4f}",
                f"{p['null_fraction_merged']:.3f}",
                f"{p['train_mean']:.6g}",
                f"{p['train_sd']:.6g}",
            ]
            for p in card["predictors"]
        ],
    )
    lines += _skipped_lines(card.get("predictor_selection"))
    imputable = card["imputable_predictor"]
    lines += [
        "",
        f"Imputable predictor: `{imputable['name']}`, missing in "
        f"{imputable['missing_in_training_rows']:,} training rows of the missing-data table"
        + (
            f" ({imputable['left_out_zip_without_complete_rows']} more left out: their zip has no "
            "complete training row)."
            if imputable.get("left_out_zip_without_complete_rows")
            else "."
        ),
        "",
    ]
    groups = card["groups"]
    lines += ["## Zip-code groups", "", f"{groups['n_groups']} groups (zips seen in training).", ""]
    quantiles = groups["train_rows_per_group_quantiles"]
    lines += _table(
        ["training rows per group: " + k for k in quantiles],
        [[f"{v:g}" for v in quantiles.values()]],
    )
    lines += [
        "",
        f"Validation rows in zips unseen in training: {groups['validation_rows_unseen_zip']} "
        f"({groups['validation_zips_unseen']} zips). {groups['note']}",
        "",
    ]
    lines += _logerror_lines(card.get("logerror"), card.get("repeat_sales"))
    split = card["split"]
    lines += [
        "## Split",
        "",
        f"Seed {split['seed']}, validation fraction {split['validation_fraction']}: "
        f"{split['train']:,} training and {split['validation']:,} validation rows.",
        "",
    ]
    if card["truth"]:
        truth = card["truth"]
        lines += ["## Truth (synthetic source)", "", truth["model"], ""]
        lines += _table(
            ["parameter", "value"],
            [["intercept", f"{truth['intercept']:.5f}"]]
            + [[f"beta[{k}]", f"{v:.5f}"] for k, v in truth["betas"].items()]
            + [
                [
                    f"quadratic[{truth['nonlinear_predictor']}]",
                    f"{truth['nonlinear_quadratic']:.5f}",
                ],
                ["sigma (sd of the noise)", truth["sigma"]],
                ["sigma_zip", truth["sigma_zip"]],
                ["intercept + mean zip effect", f"{truth['intercept_plus_mean_zip_effect']:.5f}"],
            ],
        )
        lines += ["", _noise_line(truth)] + _generating_lines(truth)
        lines.append("")
    return "\n".join(lines)


def _noise_line(truth: dict) -> str:
    noise = truth.get("noise") or {"family": "normal"}
    if noise["family"] == "normal":
        return "Noise: Normal."
    return (
        f"Noise: {noise['family'].replace('_', ' ')}, {noise['df']:g} degrees of freedom, scale "
        f"{noise['scale']:.5f}, bound +-{noise['bound']:g} (sd {noise['sd']:g}): "
        "heavier tails than the "
        "models' Normal likelihood, whose sigma estimates this sd."
    )


def _generating_lines(truth: dict) -> list[str]:
    """Model columns that carry a generating predictor under another name (identical columns)."""
    renamed = {c: g for c, g in truth.get("generating_columns", {}).items() if c != g}
    omitted = truth.get("predictors_omitted_from_model") or []
    lines = [
        f"`{c}` carries the generating predictor `{g}` (identical wherever both are present)."
        for c, g in renamed.items()
    ]
    if omitted:
        lines.append(
            f"Generating predictor(s) not chosen: {', '.join(omitted)} "
            "(their effect joins the noise)."
        )
    return lines


def _skipped_lines(selection: dict | None) -> list[str]:
    if not selection or selection.get("max_predictor_correlation") is None:
        return []
    skipped = selection["skipped_correlated"]
    lines = [
        "",
        f"### Candidates skipped as near-duplicates (|correlation| > "
        f"{selection['max_predictor_correlation']} with a chosen predictor)",
        "",
    ]
    if not skipped:
        return lines + ["None."]
    lines += _table(
        ["skipped column", "duplicates chosen column", "correlation"],
        [[s["column"], s["duplicates"], f"{s['correlation']:+.4f}"] for s in skipped],
    )
    return lines + ["", selection["note"]]


def _logerror_lines(summary: dict | None, repeats: dict | None) -> list[str]:
    if not summary:
        return []
    quantiles = summary["quantiles"]
    lines = ["## logerror (all transactions)", ""]
    lines += _table(
        ["n", "mean", "sd", "min", "max", "excess kurtosis"] + [f"q{p}" for p in quantiles],
        [
            [
                f"{summary['n']:,}",
                f"{summary['mean']:+.4f}",
                f"{summary['sd']:.4f}",
                f"{summary['min']:+.4f}",
                f"{summary['max']:+.4f}",
                f"{summary['excess_kurtosis']:.1f}",
            ]
            + [f"{v:+.4f}" for v in quantiles.values()]
        ],
    )
    lines += ["", TAILS_NOTE, ""]
    if repeats and repeats.get("parcels_sold_more_than_once") is not None:
        lines += [
            f"Repeat sales: {repeats['parcels_sold_more_than_once']} parcels sold more than once "
            f"({repeats['transactions_of_a_parcel_sold_before']} extra transactions). "
            f"{repeats['note']}",
            "",
        ]
    return lines


def write(card: dict, json_path, markdown_path) -> None:
    write_json(json_path, card)
    with atomic_path(markdown_path) as tmp:
        Path(tmp).write_text(markdown(card))


def figure(card: dict, groups_path, path) -> None:
    """Two panels: null fraction per column against the threshold, and training rows per zip."""
    plt = pyplot()

    fractions = _columns_by_null_fraction(card)
    groups = pd.read_parquet(groups_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    names = list(fractions)
    colours = ["tab:red" if name in card["dropped_columns"] else "tab:blue" for name in names]
    left.barh(range(len(names)), list(fractions.values()), color=colours)
    left.set_yticks(range(len(names)), names, fontsize=5)
    left.axvline(
        card["max_null_fraction"], color="black", linestyle="--", label="max_null_fraction"
    )
    left.set_xlabel("null fraction in the merged transactions (red: dropped)")
    left.legend(loc="lower right", fontsize=7)
    sizes = groups["n_train"].to_numpy()
    if len(sizes):
        bins = np.logspace(0, np.log10(max(sizes.max(), 2)), 30)
        right.hist(sizes, bins=bins, color="tab:green")
        right.set_xscale("log")
    right.set_xlabel("training rows per zip code")
    right.set_ylabel("zip codes")
    right.set_title(f"{card['groups']['n_groups']} zip groups", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, bbox_inches=None, metadata={"Software": None})


def _columns_by_null_fraction(card: dict) -> dict[str, float]:
    """Null fraction of every column, most null first (kept in the card for the figure)."""
    return dict(sorted(card["null_fractions"].items(), key=lambda kv: -kv[1]))
