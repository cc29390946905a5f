"""Benchmark of the calibration analysis: SBC of every Stan program through Snakemake.

Runs ``snakemake --cores N`` on a config (default config/config.yaml) with ``analyses`` set to
``[calibration]`` and a private results folder, then reads the version's calibration.json and job
records. The calibration analysis's wall time runs from its first job's start to its last job's
end (the tadpoles and Zillow data jobs its designs need run first and are reported apart).

    .venv/bin/python benchmarks/calibration.py [--config config/config.yaml] [--cores 2]
        [--replications N] [--seed S] [--engine cmdstanpy|pystan]

Prints a table (program, verdict, its screening and confirmation stages, replications, failed
fits, batch-job seconds, quantities outside the band) and writes
benchmarks/results/calibration-<engine>.json (and the run's calibration folder, without the
batches, to benchmarks/results/calibration/). Targets (this 2-core machine, default config, 100
replications per program): every program passes; the calibration jobs finish within 900 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _load import LoadWatch

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"calibration_wall_s_max": 900.0, "verdict": "pass"}


def run_workflow(
    config: str, cores: int, results: Path, overrides: dict, engine: str | None = None
) -> float:
    """Snakemake on ``config`` with a second config file on top.

    The calibration analysis alone, a private results folder, ``overrides`` merged over the
    calibration section and, if given, another Stan engine.
    """
    extra = results / "benchmark-config.yaml"
    settings = {
        "analyses": ["calibration"],
        "results_dir": str(results),
        "report": False,
        "calibration": overrides,
    }
    if engine:
        settings["stan"] = {"engine": engine}
    extra.write_text(json.dumps(settings))
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "--cores",
        str(cores),
        "--configfile",
        config,
        str(extra),
    ]
    clock = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"snakemake failed:\n{done.stderr[-4000:]}")
    return time.perf_counter() - clock


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def job_records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("logs/*.job.json"))]


def _outside(evidence: dict) -> list[str]:
    return [name for name, q in evidence.get("quantities", {}).items() if not q["inside_band"]]


def measure(version: Path) -> dict:
    records = job_records(version / "calibration")
    start = min(_time(r["start_time"]) for r in records)
    end = max(_time(r["end_time"]) for r in records)
    programs = json.loads((version / "calibration" / "calibration.json").read_text())
    jobs = {}
    for record in records:
        program = record.get("wildcards", {}).get("program", record["rule"])
        jobs.setdefault(program, 0.0)
        jobs[program] += record["wall_seconds"]
    return {
        "calibration_wall_s": round((end - start).total_seconds(), 1),
        "job_seconds_total": round(sum(r["wall_seconds"] for r in records), 1),
        "batch_cpu_seconds_total": round(
            sum(v.get("cpu_seconds", 0) for v in programs.values()), 1
        ),
        "jobs": len(records),
        "engine": next(iter(programs.values()))["engine"],
        "programs": {
            name: {
                "verdict": v["verdict"],
                "screening": v["screening"],
                "confirmation": v["confirmation"],
                "reasons": v["reasons"],
                "note": v.get("note"),
                "outside_band": _outside(v),
                "confirmation_outside_band": _outside(v.get("confirmation_result", {})),
                "replications": v["replications"],
                "failed_fits": v["failed_fits"],
                "fits_with_divergences": v["fits_with_divergences"],
                "batch_seconds": v["seconds"],
                "batch_cpu_seconds": v.get("cpu_seconds"),
                "job_seconds": round(jobs[name], 1),
                "design": v.get("design"),
            }
            for name, v in programs.items()
        },
        "summary_job_seconds": round(jobs.get("calibration_summary", 0.0), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None, help="another set of replications")
    parser.add_argument("--engine", choices=("cmdstanpy", "pystan"), help="default: the config's")
    args = parser.parse_args()
    given = (("replications", args.replications), ("seed", args.seed))
    overrides = {k: v for k, v in given if v is not None}
    load = LoadWatch()
    with tempfile.TemporaryDirectory(prefix="bayespipe-calibration-") as tmp:
        total = run_workflow(args.config, args.cores, Path(tmp), overrides, args.engine)
        version = (Path(tmp) / "latest").resolve()
        result = measure(version)
        kept = ROOT / "benchmarks" / "results" / "calibration"
        shutil.rmtree(kept, ignore_errors=True)  # the verdicts and figures, for inspection
        shutil.copytree(version / "calibration", kept, ignore=shutil.ignore_patterns("batches"))
    result.update(
        config=args.config,
        overrides=overrides,
        cores=args.cores,
        snakemake_wall_s=round(total, 1),
        load=load.finish(),
        targets=TARGETS,
    )
    result["passed"] = result["calibration_wall_s"] <= TARGETS["calibration_wall_s_max"] and all(
        p["verdict"] == "pass" for p in result["programs"].values()
    )
    print(
        f"engine {result['engine']}, {args.cores} cores, calibration wall "
        f"{result['calibration_wall_s']} s ({result['jobs']} jobs, "
        f"{result['job_seconds_total']} job-seconds; batches used "
        f"{result['batch_cpu_seconds_total']} CPU seconds), whole run "
        f"{result['snakemake_wall_s']} s"
    )
    print(
        f"{'program':<20}{'verdict':>8}{'screening':>10}{'confirm':>12}{'reps':>6}{'failed':>8}"
        f"{'diverg.':>8}{'batch s':>9}{'CPU s':>8}  outside the band (screening; confirmation)"
    )
    for name, p in result["programs"].items():
        print(
            f"{name:<20}{p['verdict']:>8}{p['screening']:>10}{p['confirmation']:>12}"
            f"{p['replications']:>6}{p['failed_fits']:>8}{p['fits_with_divergences']:>8}"
            f"{p['batch_seconds']:>9}{p['batch_cpu_seconds']:>8}  "
            f"{', '.join(p['outside_band']) or '-'}; "
            f"{', '.join(p['confirmation_outside_band']) or '-'}"
        )
    load.report()
    out = ROOT / "benchmarks" / "results" / f"calibration-{result['engine']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"targets met: {result['passed']}; written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
