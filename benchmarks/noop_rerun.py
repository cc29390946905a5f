"""Time a rerun with nothing to do (the version id, DAG and up-to-date checks).

    python benchmarks/noop_rerun.py [--configfile config/test.yaml] [--workdir DIR]

Without --workdir, copies the repository to a temporary folder and runs the workflow once first.
Prints a table and writes benchmarks/results/noop_rerun.json. Target: under 5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _load import LoadWatch  # noqa: E402
from conftest import copy_repo, executed_jobs, run_snakemake  # noqa: E402


def timed_run(workdir: Path, configfile: str, cores: str, *extra: str) -> tuple[float, str]:
    """Run Snakemake once (exit on failure): wall seconds and its output."""
    start = time.perf_counter()
    result = run_snakemake(
        workdir, "--configfile", configfile, *extra, check=False, timeout=None, cores=cores
    )
    if result.returncode:
        sys.exit(result.stdout[-4000:])
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfile", default="config/test.yaml")
    parser.add_argument("--workdir", type=Path, help="an existing checkout that has already run")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    load = LoadWatch()
    workdir = args.workdir or copy_repo(Path(tempfile.mkdtemp()) / "repo")
    first = None
    if not args.workdir:
        first, _ = timed_run(workdir, args.configfile, args.cores)
    reruns = []
    for _ in range(args.repeats):
        seconds, output = timed_run(workdir, args.configfile, args.cores)
        reruns.append(
            {
                "seconds": round(seconds, 2),
                "jobs": sum(executed_jobs(output).values()),
                "nothing_to_do": "Nothing to be done" in output,
            }
        )
    result = {
        "configfile": args.configfile,
        "first_run_seconds": first and round(first, 1),
        "reruns": reruns,
        "target_seconds": 5.0,
        "met": all(r["seconds"] < 5 and r["jobs"] == 0 for r in reruns),
        "load": load.finish(),
    }
    print(f"{'run':<10}{'seconds':>10}{'jobs':>6}  nothing to do")
    if first is not None:
        print(f"{'first':<10}{first:>10.1f}")
    for i, r in enumerate(reruns, 1):
        print(f"{'rerun ' + str(i):<10}{r['seconds']:>10.2f}{r['jobs']:>6}  {r['nothing_to_do']}")
    load.report()
    out = REPO / "benchmarks" / "results" / "noop_rerun.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
