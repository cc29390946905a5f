"""Benchmark of the tadpoles model (analysis C).

NUTS sampling time and ESS per second, and the tutorial's TFP HMC for comparison.

One run of the default configuration (config/config.yaml: tadpoles.sampler, tadpoles.tfp_hmc)
through the Stan engine, as the tadpoles_fit rule samples it. NUTS is timed twice in one process:
the first call includes starting httpstan's chain processes and loading the compiled model into
them (what one Snakemake job pays), the second is sampling alone. TFP's HMC (``--tfp``, on by
default; ``--no-tfp`` skips it) is timed including its graph tracing.

    .venv/bin/python benchmarks/tadpoles.py [--engine auto|pystan|cmdstanpy] [--no-tfp]

Prints a table and writes benchmarks/results/tadpoles.json. Targets: NUTS sampling under 2 s;
a_bar mean in [1.30, 1.40], sigma mean in [1.55, 1.70], max R-hat <= 1.01, 0 divergences,
min bulk ESS >= 400.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from _load import LoadWatch  # noqa: E402
from bayespipe.analyses.tadpoles import model as tadpoles  # noqa: E402
from bayespipe.analyses.tadpoles import reedfrogs  # noqa: E402
from bayespipe.config import load_config  # noqa: E402
from bayespipe.engines.stan.diagnostics import compute_diagnostics  # noqa: E402
from bayespipe.engines.stan.engine import get_engine  # noqa: E402

STAN_FILE = ROOT / "stan" / "tadpoles.stan"
TARGETS = {
    "nuts_sampling_seconds_max": 2.0,
    "a_bar": (1.30, 1.40),
    "sigma": (1.55, 1.70),
    "max_rhat": 1.01,
    "divergences": 0,
    "min_ess_bulk": 400,
}


def nuts_row(label, idata, info, thresholds) -> dict:
    gates = compute_diagnostics(
        idata,
        thresholds,
        var_names=tadpoles.GATED_VARIABLES,
        max_treedepth=info["sampler"]["max_treedepth"],
    )
    seconds = info["sampling_seconds"]
    ess = gates["min_ess_bulk"]["value"]
    return {
        "sampler": label,
        "chains": gates["chains"],
        "draws_per_chain": gates["draws_per_chain"],
        "wall_seconds": round(seconds, 3),
        "min_ess_bulk": round(ess, 1),
        "min_ess_bulk_per_second": round(ess / seconds, 1),
        "max_rhat": round(gates["max_rhat"]["value"], 4),
        "divergences": gates["divergences"],
        "a_bar_mean": round(float(idata.posterior["a_bar"].mean()), 3),
        "sigma_mean": round(float(idata.posterior["sigma"].mean()), 3),
    }


def run_nuts(engine_name, table, sampler, thresholds, folder) -> tuple[list[dict], object]:
    engine = get_engine(engine_name)
    stamp = folder / "tadpoles.compile.json"
    compiled = engine.compile(STAN_FILE, stamp)
    data = tadpoles.stan_data(table)
    rows, idata = [], None
    for label in ("NUTS first call (process start + sampling)", "NUTS sampling"):
        idata, info = engine.fit(STAN_FILE, data, sampler, stamp_path=stamp)
        rows.append(
            {
                **nuts_row(f"{label} [{engine.name}]", idata, info, thresholds),
                "compile_seconds": compiled.get("compile_seconds"),
            }
        )
    return rows, idata


def run_tfp(table, hmc, tfp_config, nuts_idata, folder) -> dict:
    import arviz as az

    from bayespipe.analyses.tadpoles import tfp_hmc as tadpoles_hmc
    from bayespipe.engines.tfp.session import setup_from_config

    settings = tadpoles_hmc.hmc_settings(hmc)
    session = setup_from_config(tfp_config, settings["seed"])
    draws, acceptance, seconds = tadpoles_hmc.sample_hmc(session, table, settings)
    idata = az.from_dict(posterior=draws, dims={"a": ["tank"]})
    row = tadpoles_hmc.sampler_row(f"TFP HMC, tutorial settings [{session.device}]", idata, seconds)
    return {
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
        "acceptance_rate": round(acceptance, 3),
    }


def print_table(rows: list[dict]) -> None:
    columns = [
        "sampler",
        "chains",
        "draws_per_chain",
        "wall_seconds",
        "min_ess_bulk",
        "min_ess_bulk_per_second",
        "max_rhat",
        "a_bar_mean",
        "sigma_mean",
    ]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument(
        "--engine", default=None, help="stan.engine override (auto|pystan|cmdstanpy)"
    )
    parser.add_argument("--no-tfp", action="store_true", help="skip the TFP HMC comparison")
    args = parser.parse_args()
    config = load_config(args.config)
    engine_name = args.engine or config["stan"]["engine"]
    load = LoadWatch()
    with tempfile.TemporaryDirectory(prefix="bench-tadpoles-") as tmp:
        folder = Path(tmp)
        table = reedfrogs.prepare(ROOT / config["reedfrogs"]["path"], folder / "reedfrogs.parquet")
        rows, nuts_idata = run_nuts(
            engine_name, table, config["tadpoles"]["sampler"], config["diagnostics"], folder
        )
        if not args.no_tfp:
            rows.append(
                run_tfp(table, config["tadpoles"]["tfp_hmc"], config["tfp"], nuts_idata, folder)
            )
    steady = rows[1]
    checks = {
        "nuts_sampling_under_2s": steady["wall_seconds"] < TARGETS["nuts_sampling_seconds_max"],
        "a_bar_in_range": TARGETS["a_bar"][0] <= steady["a_bar_mean"] <= TARGETS["a_bar"][1],
        "sigma_in_range": TARGETS["sigma"][0] <= steady["sigma_mean"] <= TARGETS["sigma"][1],
        "max_rhat": steady["max_rhat"] <= TARGETS["max_rhat"],
        "no_divergences": steady["divergences"] == TARGETS["divergences"],
        "min_ess_bulk": steady["min_ess_bulk"] >= TARGETS["min_ess_bulk"],
    }
    print_table(rows)
    print("targets:", ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items()))
    load.finish()
    load.report()
    result = {
        "rows": rows,
        "targets": TARGETS,
        "checks": checks,
        "load": load.record(),
        "host": platform.node(),
        "cpu": platform.processor(),
        "sampler": config["tadpoles"]["sampler"],
    }
    out = ROOT / "benchmarks" / "results" / "tadpoles.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
