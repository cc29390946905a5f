"""posteriordb's reference posteriors through models: blocks: is the pipeline sampling the program.

    python benchmarks/posteriordb.py FOLDER [--only NAME ...] [--engine auto|cmdstanpy|pystan]
        [--cores 2] [--workdir DIR] [--out benchmarks/results/posteriordb.json]

FOLDER holds posteriordb posteriors, one folder each with ``program.stan``, ``data.json`` and
``reference.json`` (``../shared/data/posteriordb``; its README gives the format). Each posterior
becomes one ``models:`` block with ``program: <posterior>/program.stan`` and ``data:
<posterior>/data.json`` and nothing else (the default sampler, no variable copied into a config),
all in one run of their own run label, ``posteriordb``, in a fresh copy of this repository whose
``config/config.yaml`` holds those blocks only (``--workdir`` keeps the copy: a second call with
the same folder reruns nothing). Then, per posterior, one row:

- matched: every reference parameter has |z| <= 5, where z = (our mean - reference mean) /
  sqrt(our MCSE^2 + reference sd^2 / n), our mean and MCSE from the block's ``summary.csv``;
- the worst parameter and its z;
- the convergence gates (``diagnostics.json``) and the checks that failed;
- wall: the block's jobs (data, compile, fit and the checks after it), summed from Snakemake's
  benchmarks; fit: its fit job alone.

Prints the table, the run's wall time and the machine's load, and writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import LoadWatch  # noqa: E402
from conftest import copy_repo, run_snakemake  # noqa: E402

RUN_LABEL = "posteriordb"
MAX_Z = 5.0


def posteriors(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The posterior folders in ``folder`` (those named in ``only``, if given), sorted."""
    found = sorted(
        p
        for p in Path(folder).iterdir()
        if (p / "program.stan").is_file() and (p / "data.json").is_file()
    )
    if only:
        missing = sorted(set(only) - {p.name for p in found})
        if missing:
            sys.exit(f"{folder}: no posterior folder named {', '.join(missing)}")
        found = [p for p in found if p.name in only]
    return found


def block_name(posterior: Path) -> str:
    """A models: block name (letters, digits, underscores) for a posterior folder."""
    return "pdb_" + re.sub(r"[^A-Za-z0-9]+", "_", posterior.name).strip("_")


def write_config(workdir: Path, folders: list[Path], engine: str | None) -> dict[str, Path]:
    """Make the copy's config/config.yaml run exactly these posteriors; block name -> folder."""
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    blocks = {block_name(p): p for p in folders}
    config.update(run_label=RUN_LABEL, analyses=["models"], comparisons={})
    config["models"] = {
        name: {"program": str(p.resolve() / "program.stan"), "data": str(p.resolve() / "data.json")}
        for name, p in blocks.items()
    }
    if engine:
        config.setdefault("stan", {})["engine"] = engine
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return blocks


def z_scores(summary_csv: Path, reference_json: Path) -> dict[str, float | None]:
    """Parameter -> z against the reference (None where the summary has no such row)."""
    ours = {}
    with summary_csv.open() as handle:
        for row in csv.DictReader(handle):
            ours[row["variable"].replace(" ", "")] = row
    z = {}
    for name, ref in json.loads(reference_json.read_text()).items():
        row = ours.get(name.replace(" ", ""))
        if row is None:
            z[name] = None
            continue
        error = math.sqrt(float(row["mcse_mean"]) ** 2 + ref["sd"] ** 2 / ref["n"])
        z[name] = (float(row["mean"]) - ref["mean"]) / error if error > 0 else math.inf
    return z


def job_walls(work: Path, block: str) -> dict[str, float]:
    """Job -> wall seconds (Snakemake's benchmark) of one block's jobs."""
    walls = {}
    for tsv in (work / "models" / "benchmarks").glob(f"*_{block}.tsv"):
        job = tsv.stem[: -len(block) - 1]
        with tsv.open() as handle:
            walls[job] = float(next(csv.DictReader(handle, delimiter="\t"))["s"])
    return walls


def posterior_row(work: Path, block: str, folder: Path) -> dict:
    """The benchmark's row of one posterior, from its block's outputs in the work tree."""
    out = work / "models" / block
    walls = job_walls(work, block)
    row = {
        "posterior": folder.name,
        "block": block,
        "wall_s": round(sum(walls.values()), 1),
        "fit_s": round(walls.get("models_fit", math.nan), 1),
    }
    if not (out / "summary.csv").is_file():
        log = work / "models" / "logs" / f"models_fit_{block}.log"
        return {
            **row,
            "matched": False,
            "worst": None,
            "worst_z": None,
            "gates": "no fit",
            "failed_checks": [],
            "error": _last_error(log),
        }
    z = z_scores(out / "summary.csv", folder / "reference.json")
    missing = sorted(name for name, value in z.items() if value is None)
    present = {name: value for name, value in z.items() if value is not None}
    worst = max(present, key=lambda name: abs(present[name]), default=None)
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    return {
        **row,
        "matched": not missing and all(abs(v) <= MAX_Z for v in present.values()),
        "worst": worst,
        "worst_z": round(present[worst], 2) if worst else None,
        "missing": missing,
        "gates": "passed" if diagnostics.get("passed") else "failed",
        "failed_checks": diagnostics.get("failed", []),
        "z": {name: (round(v, 3) if v is not None else None) for name, v in z.items()},
    }


def _last_error(log: Path) -> str | None:
    if not log.is_file():
        return None
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return lines[-1][:200] if lines else None


def print_table(rows: list[dict]) -> None:
    print(
        f"{'posterior':<42}{'matched':>8}  {'worst parameter':<18}{'|z|':>6}  "
        f"{'gates':<8}{'failed checks':<28}{'wall s':>8}{'fit s':>7}"
    )
    for row in rows:
        worst_z = "" if row["worst_z"] is None else f"{abs(row['worst_z']):.2f}"
        print(
            f"{row['posterior'][:41]:<42}{'yes' if row['matched'] else 'NO':>8}  "
            f"{(row['worst'] or '-')[:17]:<18}{worst_z:>6}  {row['gates']:<8}"
            f"{', '.join(row['failed_checks'])[:27]:<28}{row['wall_s']:>8.1f}{row['fit_s']:>7.1f}"
        )
        if row.get("error"):
            print(f"    {row['error']}")


def run(folder: Path, workdir: Path, *, only=None, engine=None, cores="2") -> dict:
    """Run the posteriors of ``folder`` in ``workdir`` (copied there if absent); the result."""
    if not workdir.exists():
        copy_repo(workdir)
    blocks = write_config(workdir, posteriors(folder, only), engine)
    load = LoadWatch()
    start = time.perf_counter()
    result = run_snakemake(workdir, "--keep-going", check=False, timeout=None, cores=cores)
    seconds = time.perf_counter() - start
    work = workdir / "results" / ".work" / RUN_LABEL
    rows = [posterior_row(work, block, path) for block, path in blocks.items()]
    return {
        "folder": str(folder),
        "engine": engine or "config",
        "run_seconds": round(seconds, 1),
        "snakemake_exit": result.returncode,
        "matched": sum(row["matched"] for row in rows),
        "posteriors": len(rows),
        "rows": rows,
        "load": load.finish(),
        "console_tail": result.stdout[-3000:] if result.returncode else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="a folder of posteriordb posteriors")
    parser.add_argument("--only", nargs="*", help="only these posterior folders (by name)")
    parser.add_argument("--engine", default=None, help="stan.engine for this run")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--workdir", type=Path, help="run here (a fresh copy made if absent)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/posteriordb.json")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp()) / "repo"
    result = run(args.folder, workdir, only=args.only, engine=args.engine, cores=args.cores)
    print_table(result["rows"])
    print(
        f"{result['matched']} of {result['posteriors']} posteriors matched (|z| <= {MAX_Z:g}); "
        f"run wall {result['run_seconds']:.1f} s (snakemake exit {result['snakemake_exit']}, "
        f"--cores {args.cores}); work tree {workdir}/results/.work/{RUN_LABEL}"
    )
    from _load import describe

    for line in describe(result["load"]):
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
