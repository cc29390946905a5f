"""Benchmark: the Zillow random-intercepts model, pointwise likelihood against our formulations.

    .venv/bin/python benchmarks/stan_zillow.py [--rows 36986] [--zips 400] [--naive-rows 3699]
                                               [--engines cmdstanpy,pystan]

Data: a simulated table in the prepared layout (standardized predictors, zips of very unequal
sizes) at the tutorial's size: 36,986 training rows, 400 zips, 3 predictors. Formulations, all
with the same priors and posterior:

    marginal     stan/random_intercepts.stan: sufficient statistics, zip intercepts integrated
                 out and drawn exactly in generated quantities (the pipeline's program)
    suffstats    stan/reference/random_intercepts_suffstats.stan: sufficient statistics,
                 non-centred intercepts sampled by NUTS
    pointwise    stan/reference/random_intercepts_pointwise.stan: one normal term per row; run
                 on --naive-rows rows (default a tenth) because at full size it takes minutes

Each runs 4 chains x 1000 warm-up / 1000 draws on every available engine (CmdStanPy when CmdStan
resolves, e.g. `export CMDSTAN=$(../shared/tools/cmdstan/install.sh)`; PyStan always), or on those
named by --engines. Compile seconds are shown too: CmdStan executables come from the per-machine
cache after the first build. Prints a table and writes benchmarks/results/stan_zillow.json.
Targets: marginal at full size <= 12 s sampling with CmdStan, <= 30 s with PyStan, and
min bulk ESS >= 1000.
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
from bayespipe import software
from bayespipe.analyses.zillow import models
from bayespipe.engines.stan.engine import get_engine

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = {
    "marginal": REPO / "stan" / "random_intercepts.stan",
    "suffstats": REPO / "stan" / "reference" / "random_intercepts_suffstats.stan",
    "pointwise": REPO / "stan" / "reference" / "random_intercepts_pointwise.stan",
}
PARAMETERS = ["alpha", "beta", "sigma", "sigma_zip", "a_zip"]
TARGET_SECONDS = {"cmdstanpy": 12.0, "pystan": 30.0}


def simulate(rows: int, zips: int, seed: int = 2016) -> tuple[pd.DataFrame, list[str]]:
    """Prepared-layout rows from a random-intercepts model close to the synthetic Zillow truth."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0, 1.3, zips)
    groups = rng.choice(np.arange(1, zips + 1), size=rows, p=weights / weights.sum())
    X = rng.normal(size=(rows, 3))
    y = (
        0.011
        + X @ np.array([0.035, 0.025, -0.025])
        + rng.normal(0, 0.04, zips)[groups - 1]
        + rng.normal(0, 0.16, rows)
    )
    names = ["calculatedfinishedsquarefeet", "lotsizesquarefeet", "yearbuilt"]
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "logerror", y)
    frame["zip_index"] = groups
    return frame, names


def stan_data(formulation: str, frame: pd.DataFrame, names: list[str], zips: int) -> dict:
    if formulation == "pointwise":
        return models.pointwise_data(frame, names, zips)
    data = models.random_intercepts_data(frame, names, zips, n_rep=100)
    if formulation == "suffstats":
        for key in ("N_rep", "y_obs", "X_rep", "g_rep"):
            del data[key]
    return data


def run_one(engine, formulation: str, data: dict, stamp: Path, sampler: dict) -> dict:
    import arviz as az

    clock = time.perf_counter()
    idata, info = engine.fit(PROGRAMS[formulation], data, sampler, stamp_path=stamp)
    wall = time.perf_counter() - clock
    summary = az.summary(idata, var_names=PARAMETERS, round_to="none")
    return {
        "formulation": formulation,
        "rows": int(data["N"]),
        "sampling_seconds": round(info["sampling_seconds"], 2),
        "wall_seconds": round(wall, 2),
        "min_ess_bulk": round(float(summary["ess_bulk"].min()), 0),
        "min_ess_tail": round(float(summary["ess_tail"].min()), 0),
        "max_rhat": round(float(summary["r_hat"].max()), 4),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "ess_bulk_per_second": round(
            float(summary["ess_bulk"].min()) / info["sampling_seconds"], 1
        ),
        "means": {
            k: round(float(v), 5) for k, v in summary["mean"].items() if not k.startswith("a_zip")
        },
        "sds": {
            k: round(float(v), 5) for k, v in summary["sd"].items() if not k.startswith("a_zip")
        },
    }


def available_engines(requested: str | None) -> list[str]:
    found = ["cmdstanpy", "pystan"] if software.cmdstan_info() else ["pystan"]
    if not requested:
        return found
    names = requested.split(",")
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(
            f"--engines: {', '.join(missing)} not available here (available: {', '.join(found)})"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=36_986)
    parser.add_argument("--zips", type=int, default=400)
    parser.add_argument(
        "--naive-rows", type=int, default=3_699, help="rows of the pointwise run (0 skips it)"
    )
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--formulations", default="marginal,suffstats,pointwise")
    parser.add_argument(
        "--engines", default=None, help="comma-separated (default: every available one)"
    )
    parser.add_argument(
        "--output", default=str(REPO / "benchmarks" / "results" / "stan_zillow.json")
    )
    args = parser.parse_args()
    load = LoadWatch()
    sampler = {
        "chains": 4,
        "parallel_chains": 2,
        "warmup": args.warmup,
        "draws": args.draws,
        "seed": 20261125,
    }
    frame, names = simulate(args.rows, args.zips)
    if software.cmdstan_info() is None:
        print(
            "CmdStan not found (cmdstanpy.cmdstan_path() does not resolve): CmdStanPy rows skipped"
        )
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for engine_name in available_engines(args.engines):
            engine = get_engine(engine_name)
            for formulation in args.formulations.split(","):
                rows = args.naive_rows if formulation == "pointwise" else args.rows
                if rows <= 0:
                    continue
                stamp = Path(scratch) / f"{engine_name}-{formulation}.json"
                compile_seconds = engine.compile(PROGRAMS[formulation], stamp)["compile_seconds"]
                data = stan_data(formulation, frame.iloc[:rows], names, args.zips)
                result = run_one(engine, formulation, data, stamp, sampler)
                result.update(engine=engine_name, compile_seconds=compile_seconds)
                results.append(result)
                print(f"{engine_name} {formulation}: {result['sampling_seconds']} s", flush=True)
    load.finish()
    print_table(results, sampler)
    load.report()
    write(results, sampler, args, load.record())


def print_table(results: list[dict], sampler: dict) -> None:
    print(
        f"\nrandom-intercepts model, {sampler['chains']} chains x "
        f"{sampler['warmup']}/{sampler['draws']}"
    )
    header = (
        f"{'engine':<10} {'formulation':<11} {'rows':>7} {'sampling s':>10} {'min bulk ESS':>12} "
        f"{'min tail ESS':>12} {'max R-hat':>9} {'div':>4} {'ESS/s':>8} {'compile s':>9} "
        f"{'target':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        target = ""
        if r["formulation"] == "marginal":
            ok = r["sampling_seconds"] <= TARGET_SECONDS[r["engine"]] and r["min_ess_bulk"] >= 1000
            target = "met" if ok else "MISSED"
        print(
            f"{r['engine']:<10} {r['formulation']:<11} {r['rows']:>7} "
            f"{r['sampling_seconds']:>10.2f} {r['min_ess_bulk']:>12.0f} {r['min_ess_tail']:>12.0f} "
            f"{r['max_rhat']:>9.4f} {r['divergences']:>4} "
            f"{r['ess_bulk_per_second']:>8.1f} {r['compile_seconds']:>9.1f} {target:>8}"
        )
    full = [r for r in results if r["formulation"] != "pointwise"]
    if len(full) > 1:
        print("\nposterior means (full size):")
        for name in full[0]["means"]:
            print(
                f"  {name:<12} "
                + "  ".join(
                    f"{r['engine']}/{r['formulation']}={r['means'][name]:.5f}" for r in full
                )
            )


def write(results: list[dict], sampler: dict, args, load: dict) -> None:
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "stan_zillow",
        "rows": args.rows,
        "zips": args.zips,
        "predictors": 3,
        "naive_rows": args.naive_rows,
        "sampler": sampler,
        "software": software.software_versions(),
        "load": load,
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
