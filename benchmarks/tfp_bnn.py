"""Benchmark: training wall time and the quality metric of each TFP network, one run each.

    .venv/bin/python benchmarks/tfp_bnn.py [--zillow-dir results/<version>/zillow]
        [--config config/config.yaml] [--seeds 1 2 3 4 5] [--only moons sinusoid zillow]

Settings come from the config (default: the default run's). Models and targets:

    moons full_batch    test accuracy >= 0.94 in <= 30 s of training (tutorial: 94.2%, 37 s)
    moons minibatch     test accuracy (reported; the tutorial's mini-batch run took 17.5 s)
    sinusoid epistemic  at each seed: band ratio (mean epistemic sd outside [-0.5, 0.5] / inside)
                        >= 3 and RMSE of the predictive mean to the true curve on [-0.5, 0.5]
                        <= 1.2 x the noise sd
    sinusoid aleatoric  the same two metrics and the learned noise sd, at each seed (reported)
    zillow network      validation MAE below the linear model's on the synthetic truth

The Zillow network trains on the prepared data in --zillow-dir/data (a workflow result folder);
without it the synthetic twin is generated at the config's sizes and prepared into a cache. The
linear model's MAE is read from --zillow-dir/linear_regression/heldout_metrics.json (the Stan
fit) when present; the least-squares fit is always reported too (with 39,000 rows and Normal(0, 1)
priors the Stan posterior-mean prediction equals it to about 1e-5). "Train s" is the wall time
of the optimisation loop (graph tracing included, TensorFlow start-up and prediction excluded).
The sinusoid runs once per --seeds value (default: the config's seed and the next four; the seed
draws the data and the network's initialisation); its rows go to a second table. Prints the
tables and writes benchmarks/results/tfp_bnn.json, with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _load import LoadWatch
from bayespipe.analyses.moons import network as moons
from bayespipe.analyses.sinusoid import data as sinusoid_data
from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.analyses.zillow import network as zillow_network
from bayespipe.config import load_config

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "tfp_bnn.json"
CACHE = Path(tempfile.gettempdir()) / "bayespipe-bench" / "zillow-default"
ANALYSES = ("moons", "sinusoid", "zillow")


def run_moons(settings, tfp_config, work: Path) -> list[dict]:
    moons.prepare(settings, work / "train.parquet", work / "test.parquet")
    rows = []
    for variant in moons.VARIANTS:
        outputs = {
            k: work / variant / f"{k}.out" for k in ("metrics", "history", "predictions", "grid")
        }
        metrics, _ = moons.fit(
            settings, tfp_config, variant, work / "train.parquet", work / "test.parquet", outputs
        )
        full = variant == "full_batch"
        rows.append(
            {
                "model": f"moons {variant}",
                "train_s": metrics["train_seconds"],
                "metric": "test accuracy",
                "value": metrics["test_accuracy"],
                "target": ">= 0.94 in <= 30 s" if full else "(reported)",
                "met": (metrics["test_accuracy"] >= 0.94 and metrics["train_seconds"] <= 30)
                if full
                else None,
                "device": metrics["device"]["device"],
                "steps": metrics["steps"],
            }
        )
    return rows


def sinusoid_seed_row(variant: str, seed: int, metrics: dict) -> dict:
    ratio, rmse = metrics["band_ratio"], metrics["rmse_inside_over_noise_sd"]
    return {
        "variant": variant,
        "seed": seed,
        "band_ratio": round(ratio, 2),
        "rmse_over_noise_sd": round(rmse, 2),
        "learned_noise_sd": round(metrics["mean_aleatoric_sd_inside"], 2),
        "train_s": metrics["train_seconds"],
        "met": ratio >= 3 and rmse <= 1.2,
    }


def run_sinusoid(
    settings, tfp_config, work: Path, seeds: list[int]
) -> tuple[list[dict], list[dict]]:
    """One fit per variant and seed: the main table's rows (worst seed) and the per-seed rows."""
    per_seed = []
    for seed in seeds:
        seeded = {**settings, "seed": seed}
        sinusoid_data.prepare(seeded, work / f"train-{seed}.parquet")
        for variant in sinusoid.variants(settings):
            outputs = {
                k: work / f"{variant}-{seed}" / f"{k}.out"
                for k in ("metrics", "history", "predictions")
            }
            metrics, _ = sinusoid.fit(
                seeded, tfp_config, variant, work / f"train-{seed}.parquet", outputs
            )
            per_seed.append(
                sinusoid_seed_row(variant, seed, metrics)
                | {"device": metrics["device"]["device"], "steps": metrics["epochs"]}
            )
    rows = []
    for variant in sinusoid.variants(settings):
        mine = pd.DataFrame([r for r in per_seed if r["variant"] == variant])
        # learned noise is reported, not held to the targets (see the docstring)
        targeted = variant == "epistemic"
        band, rmse = mine["band_ratio"].min(), mine["rmse_over_noise_sd"].max()
        for metric, worst, target, met in (
            ("band_ratio", band, ">= 3 at every seed", band >= 3),
            ("rmse_over_noise_sd", rmse, "<= 1.2 at every seed", rmse <= 1.2),
        ):
            rows.append(
                {
                    "model": f"sinusoid {variant}",
                    "train_s": round(float(mine["train_s"].mean()), 2),
                    "metric": f"{metric.replace('_', ' ')} (worst of {len(mine)} seeds)",
                    "value": float(worst),
                    "target": target if targeted else "(reported)",
                    "met": bool(met) if targeted else None,
                    "device": mine["device"].iloc[0],
                    "steps": int(mine["steps"].iloc[0]),
                }
            )
    return rows, per_seed


def prepared_zillow(config: dict, zillow_dir: Path | None) -> Path:
    if zillow_dir:
        return zillow_dir / "data"
    from bayespipe.analyses.zillow import prep, synthetic

    z = config["zillow"]
    data = CACHE / "data"
    stamp = CACHE / "settings.json"
    key = {
        k: z[k]
        for k in (
            "seed",
            "n_properties",
            "n_transactions",
            "n_zips",
            "max_null_fraction",
            "n_predictors",
            "validation_fraction",
        )
    }
    if (
        stamp.exists()
        and json.loads(stamp.read_text()) == key
        and (data / "train.parquet").exists()
    ):
        return data
    data.mkdir(parents=True, exist_ok=True)
    raw = [CACHE / "train_2016_v2.csv", CACHE / "properties_2016.csv"]
    synthetic.generate(
        z["seed"], z["n_properties"], z["n_transactions"], z["n_zips"], *raw, CACHE / "truth.json"
    )
    prep.prepare_all(
        *raw,
        data,
        {**key, "predictors": z["predictors"], "imputable_predictor": z["imputable_predictor"]},
    )
    stamp.write_text(json.dumps(key))
    return data


def least_squares_mae(data: Path) -> float:
    predictors = json.loads((data / "predictors.json").read_text())["predictors"]
    train, validation = (
        pd.read_parquet(data / "train.parquet"),
        pd.read_parquet(data / "validation.parquet"),
    )
    design = lambda f: np.column_stack([np.ones(len(f)), f[predictors].to_numpy()])  # noqa: E731
    coef, *_ = np.linalg.lstsq(design(train), train["logerror"].to_numpy(), rcond=None)
    return float(np.mean(np.abs(validation["logerror"].to_numpy() - design(validation) @ coef)))


def run_zillow(config, tfp_config, work: Path, zillow_dir: Path | None) -> list[dict]:
    data = prepared_zillow(config, zillow_dir)
    linear_file = zillow_dir / "linear_regression" / "heldout_metrics.json" if zillow_dir else None
    linear_mae = (
        json.loads(linear_file.read_text())["mae"] if linear_file and linear_file.exists() else None
    )
    ls_mae = least_squares_mae(data)
    reference = linear_mae if linear_mae is not None else ls_mae
    outputs = {
        k: work / f"{k}.out"
        for k in ("heldout", "metrics", "history", "predictions", "zip_intercepts")
    }
    heldout, _ = zillow_network.fit(
        config["zillow"]["network"],
        tfp_config,
        data / "train.parquet",
        data / "validation.parquet",
        data / "predictors.json",
        outputs,
    )
    metrics = json.loads(outputs["metrics"].read_text())
    return [
        {
            "model": "zillow network",
            "train_s": metrics["train_seconds"],
            "metric": "validation MAE",
            "value": heldout["mae"],
            "target": f"< linear {reference:.5f}",
            "met": heldout["mae"] < reference,
            "device": metrics["device"]["device"],
            "steps": metrics["iterations"],
            "rmse": heldout["rmse"],
            "mlpd": heldout["mlpd"],
            "linear_stan_mae": linear_mae,
            "least_squares_mae": ls_mae,
            "n_validation": heldout["n_validation"],
            "data": str(data),
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument(
        "--zillow-dir", type=Path, default=None, help="a results/<version>/zillow folder"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="sinusoid seeds (default: the config's seed and the next four)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=ANALYSES,
        default=list(ANALYSES),
        help="networks to run (default: all)",
    )
    args = parser.parse_args()
    config = load_config(args.config)
    tfp_config = config["tfp"]
    seeds = args.seeds or [config["sinusoid"]["seed"] + i for i in range(5)]
    load = LoadWatch()
    started = time.perf_counter()
    rows, seed_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "moons" in args.only:
            rows += run_moons(config["moons"], tfp_config, work / "moons")
        if "sinusoid" in args.only:
            main_rows, seed_rows = run_sinusoid(
                config["sinusoid"], tfp_config, work / "sinusoid", seeds
            )
            rows += main_rows
        if "zillow" in args.only:
            rows += run_zillow(config, tfp_config, work / "zillow", args.zillow_dir)
    table = pd.DataFrame(rows)
    print(
        table[
            ["model", "device", "steps", "train_s", "metric", "value", "target", "met"]
        ].to_string(index=False)
    )
    if seed_rows:
        print("\nsinusoid per seed (targets: band ratio >= 3, RMSE / noise sd <= 1.2):")
        print(pd.DataFrame(seed_rows).drop(columns=["device", "steps"]).to_string(index=False))
    result = {
        "rows": rows,
        "sinusoid_seeds": seed_rows,
        "load": load.finish(),
        "total_wall_s": round(time.perf_counter() - started, 1),
        "config": args.config,
    }
    load.report()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
