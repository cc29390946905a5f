"""Where a run's time goes: per job, the time inside the engine against the rest.

    python benchmarks/pipeline.py [--configfile config/test.yaml] [--cores 2]
        [--engine auto|cmdstanpy|pystan] [--analyses zillow tadpoles] [--workdir DIR]
        [--out benchmarks/results/pipeline.json]

Copies the repository to a temporary folder (or reuses --workdir, which keeps Snakemake's
outputs: pass a fresh folder for a full run), runs the config once, then prints one row per job:

- wall: Snakemake's benchmark of the job (``<analysis>/benchmarks/<job>.tsv``, column ``s``);
- engine: the time inside the engine, from the engine's own timers recorded in the job record
  (Stan compile, CmdStan's or PyStan's sampling of the prior and posterior runs, TFP training);
- overhead: wall minus engine (start-up, imports, data, conversion, summaries, figures);
- peak RSS (``max_rss``, MB), and the CPU seconds of the job's processes (``cpu_time``), which
  tell the cost apart from waiting on a loaded machine.

Then the totals, the run's own wall time, its utilisation (CPU seconds over wall x cores: the
CPU of Snakemake and every process it started, from getrusage, and the jobs' benchmark
``cpu_time`` summed) and the critical path (the chain of jobs, input to output, with the largest
summed wall), with the load average before and after and the machine's cores
(``benchmarks/_load.py``: a busy machine's figures are marked not comparable). Writes the rows and
totals as JSON. Targets (issues 24, 30): a Stan fit job's wall at most 2x its sampling plus 3 s;
the default run at most 90 s on CmdStan and 120 s on PyStan with warm caches, at a utilisation of
at least 80%.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

sys.path.insert(0, str(REPO / "benchmarks"))

from _load import LoadWatch, describe  # noqa: E402
from conftest import copy_repo  # noqa: E402
from noop_rerun import timed_run  # noqa: E402

# Where each kind of job records the time spent inside its engine (dotted paths into the job
# record's "extra"; the values found are summed).
ENGINE_TIMERS = (
    "compile.compile_seconds",  # stan_compile: building the executable / the httpstan module
    "sampling_seconds",  # Zillow fits, calibration batches: the posterior run(s)
    "prior_sampling_seconds",  # Zillow fits: the prior-only run
    "metrics.sampling_seconds",  # tadpoles_fit
    "metrics.prior_sampling_seconds",
    "train_seconds",  # TFP training (moons, sinusoid, the Zillow network, LeNet)
    "hmc_seconds",  # tadpoles_compare_tfp_hmc: TFP's HMC
)
STAN_FIT_PREFIXES = ("zillow_fit_", "tadpoles_fit", "models_fit_")


def dotted(mapping: dict, path: str):
    node = mapping
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (int, float)) else None


def engine_seconds(extra: dict) -> float | None:
    found = [v for v in (dotted(extra, p) for p in ENGINE_TIMERS) if v is not None]
    return round(sum(found), 2) if found else None


def read_benchmark(path: Path) -> dict:
    with path.open() as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    rss = row.get("max_rss", "NA")
    cpu = row.get("cpu_time", "NA")
    return {
        "wall": round(float(row["s"]), 2),
        # CPU seconds of the job's processes: what it costs apart from waiting for a busy machine
        "cpu": None if cpu in ("NA", "-", "") else round(float(cpu), 2),
        "max_rss_mb": None if rss in ("NA", "-", "") else round(float(rss)),
    }


def job_rows(work: Path) -> list[dict]:
    """One row per job that has a benchmark TSV under ``work`` (``results/.work/<label>``)."""
    rows = []
    for bench in sorted(work.glob("*/benchmarks/*.tsv")):
        job = bench.stem
        record_path = bench.parent.parent / "logs" / f"{job}.job.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        engine = engine_seconds(record.get("extra", {}))
        row = {"job": job, "analysis": bench.parent.parent.name, **read_benchmark(bench)}
        row["engine"] = engine
        row["overhead"] = round(row["wall"] - (engine or 0.0), 2)
        row["inputs"] = sorted(_flat(record.get("input_names", {})))
        row["outputs"] = record.get("outputs", [])
        if job.startswith(STAN_FIT_PREFIXES) and engine is not None:
            row["fit_target_s"] = round(2 * engine + 3, 2)
            row["fit_target_met"] = row["wall"] <= row["fit_target_s"]
        rows.append(row)
    return rows


def _flat(value) -> list[str]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flat(item)]
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [str(value)] if value else []


def critical_path(rows: list[dict]) -> tuple[float, list[str]]:
    """The chain of jobs (each taking an output of the previous one) with the largest total wall."""
    producer = {out: row["job"] for row in rows for out in row["outputs"]}
    by_job = {row["job"]: row for row in rows}
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(job: str) -> tuple[float, list[str]]:
        if job not in best:
            parents = {producer[p] for p in by_job[job]["inputs"] if p in producer} - {job}
            before = max((longest(p) for p in parents), default=(0.0, []))
            best[job] = (before[0] + by_job[job]["wall"], [*before[1], job])
        return best[job]

    return max((longest(job) for job in by_job), default=(0.0, []))


def print_table(rows: list[dict], totals: dict) -> None:
    print(
        f"{'job':<52}{'wall s':>8}{'engine s':>10}{'overhead s':>12}{'CPU s':>8}{'RSS MB':>8}"
        "  fit target"
    )
    for row in sorted(rows, key=lambda r: -r["wall"]):
        engine = "" if row["engine"] is None else f"{row['engine']:.1f}"
        rss = "" if row["max_rss_mb"] is None else str(row["max_rss_mb"])
        cpu = "" if row["cpu"] is None else f"{row['cpu']:.1f}"
        target = ""
        if "fit_target_s" in row:
            target = f"<= {row['fit_target_s']:.1f} s: {'yes' if row['fit_target_met'] else 'NO'}"
        print(
            f"{row['job'][:51]:<52}{row['wall']:>8.1f}{engine:>10}{row['overhead']:>12.1f}"
            f"{cpu:>8}{rss:>8}  {target}"
        )
    print(
        f"{'total (' + str(totals['jobs']) + ' jobs)':<52}{totals['wall']:>8.1f}"
        f"{totals['engine']:>10.1f}{totals['overhead']:>12.1f}{totals['cpu']:>8.1f}"
        f"{totals['peak_rss_mb'] or 0:>8}"
    )
    print(f"run wall (snakemake, --cores {totals['cores']}): {totals['run_seconds']:.1f} s")
    print(
        f"critical path {totals['critical_path_s']:.1f} s: " + " -> ".join(totals["critical_path"])
    )
    print(utilisation_line(totals))


def used_cores(cores: str) -> int:
    """The cores a run could use: Snakemake's --cores, at most the machine's."""
    machine = os.cpu_count() or 1
    return machine if cores == "all" else min(int(cores), machine)


def utilisation(cpu_seconds: float | None, wall: float, cores: int) -> float | None:
    """CPU seconds over wall x cores: 1.0 when every core was busy for the whole run."""
    if cpu_seconds is None or wall <= 0:
        return None
    return round(cpu_seconds / (wall * cores), 3)


def utilisation_line(totals: dict) -> str:
    def share(value: float | None, cpu: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%} ({cpu:.1f} CPU-s)"

    return (
        f"utilisation = CPU-s / ({totals['run_seconds']:.1f} s wall x {totals['used_cores']} "
        f"cores): {share(totals['utilisation'], totals['run_cpu_seconds'])} Snakemake and all "
        f"it started; {share(totals['jobs_utilisation'], totals['cpu'])} the jobs' cpu_time"
    )


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children and the descendants they waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfile", default="config/test.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--engine", default=None, help="stan.engine for this run")
    parser.add_argument("--analyses", nargs="*", help="only these analyses (default: the config's)")
    parser.add_argument(
        "--workdir", type=Path, help="run here (a fresh copy made there if it does not exist)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/pipeline.json")
    parser.add_argument(
        "--table-only", action="store_true", help="tabulate --workdir's last run, run nothing"
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp()) / "repo"
    if not workdir.exists():
        copy_repo(workdir)
    overrides = []
    if args.engine:
        overrides.append(f"stan={{'engine': '{args.engine}'}}")
    if args.analyses:
        overrides.append(f"analyses={args.analyses}")
    extra = ["--config", *overrides] if overrides else []
    if args.table_only:  # the run and its console as recorded by an earlier call
        recorded = json.loads(args.out.read_text())["totals"]
        seconds, run_cpu = recorded["run_seconds"], recorded.get("run_cpu_seconds")
        load = recorded.get("load")
        console = args.out.with_suffix(".console.txt").read_text()
    else:
        watch = LoadWatch()
        cpu_before = children_cpu_seconds()
        seconds, console = timed_run(workdir, args.configfile, args.cores, *extra)
        run_cpu = round(children_cpu_seconds() - cpu_before, 1)
        load = watch.finish()
    works = sorted((workdir / "results" / ".work").iterdir(), key=lambda p: p.stat().st_mtime)
    rows = job_rows(works[-1])
    path_seconds, path = critical_path(rows)
    cores = used_cores(args.cores)
    jobs_cpu = round(sum(r["cpu"] or 0 for r in rows), 1)
    totals = {
        "configfile": args.configfile,
        "stan_engine": args.engine or "config",
        "cores": args.cores,
        "used_cores": cores,
        "jobs": len(rows),
        "run_seconds": round(seconds, 1),
        "wall": round(sum(r["wall"] for r in rows), 1),
        "engine": round(sum(r["engine"] or 0 for r in rows), 1),
        "overhead": round(sum(r["overhead"] for r in rows), 1),
        "cpu": jobs_cpu,
        "run_cpu_seconds": run_cpu,
        "utilisation": utilisation(run_cpu, seconds, cores),
        "jobs_utilisation": utilisation(jobs_cpu, seconds, cores),
        "load": load,
        "peak_rss_mb": max((r["max_rss_mb"] or 0 for r in rows), default=None),
        "critical_path_s": round(path_seconds, 1),
        "critical_path": path,
        "console_lines": len(console.splitlines()),
        "longest_console_line": max((len(x) for x in console.splitlines()), default=0),
        "stan_fits_within_target": all(r.get("fit_target_met", True) for r in rows),
    }
    print_table(rows, totals)
    for line in describe(load) if load else []:
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        row.pop("inputs"), row.pop("outputs")
    args.out.write_text(json.dumps({"totals": totals, "jobs": rows}, indent=2))
    args.out.with_suffix(".console.txt").write_text(console)  # what the user saw
    print(f"wrote {args.out} (work tree {workdir})")


if __name__ == "__main__":
    main()
