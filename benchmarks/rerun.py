"""Which jobs a change reruns, and how long the rerun takes, beside a full run.

    python benchmarks/rerun.py [--configfile config/config.yaml] [--cores 2] [--analyses a,b]

Copies the repository to a temporary folder, runs the workflow once, then applies each change
below on top of the previous one (as a user iterating would) and reruns the same command. For
every run it records the jobs Snakemake executed (from its job stats) and the wall time, and
checks that a dry run listed exactly those jobs. Prints a table and writes
benchmarks/results/rerun.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

sys.path.insert(0, str(REPO / "benchmarks"))

from _load import LoadWatch  # noqa: E402
from conftest import copy_repo, executed_jobs  # noqa: E402
from noop_rerun import timed_run  # noqa: E402


def run(workdir: Path, configfile: str, cores: str, *extra: str) -> tuple[float, dict]:
    seconds, output = timed_run(workdir, configfile, cores, *extra)
    return seconds, executed_jobs(output)


def set_key(workdir: Path, configfile: str, dotted: str, value) -> None:
    path = workdir / configfile
    config = yaml.safe_load(path.read_text())
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def append_comment(workdir: Path, rel: str) -> None:
    path = workdir / rel
    path.write_text(path.read_text() + "\n# benchmark: a comment\n")


def changes(configfile: str, settings: dict) -> list[tuple[str, callable]]:
    network = settings.get("zillow", {}).get("network", {}).get("iterations", 3000)
    draws = (
        settings.get("zillow", {}).get("models", {}).get("random_intercepts", {}).get("draws", 1000)
    )
    return [
        (
            "zillow.network.iterations changed",
            lambda w: set_key(w, configfile, "zillow.network.iterations", int(network) + 100),
        ),
        (
            "zillow.models.random_intercepts.draws changed",
            lambda w: set_key(
                w, configfile, "zillow.models.random_intercepts.draws", int(draws) + 100
            ),
        ),
        (
            "tadpoles.sampler.seed changed",
            lambda w: set_key(w, configfile, "tadpoles.sampler.seed", 4242),
        ),
        (
            "comment in the moons network module",
            lambda w: append_comment(w, "workflow/bayespipe/analyses/moons/network.py"),
        ),
        ("comment in the CLI", lambda w: append_comment(w, "workflow/bayespipe/cli.py")),
        (
            "second model added to models:",
            lambda w: add_model(w, configfile, "eight_schools_again", "eight_schools", seed=7),
        ),
        (
            "models.eight_schools.sampler.seed changed",
            lambda w: set_key(w, configfile, "models.eight_schools.sampler.seed", 4242),
        ),
    ]


def add_model(workdir: Path, configfile: str, name: str, like: str, seed: int) -> None:
    """A new block under models: (a copy of ``like`` with another seed), as a user adds one."""
    path = workdir / configfile
    config = yaml.safe_load(path.read_text())
    blocks = config.setdefault("models", {})
    source = (
        blocks.get(like)
        or yaml.safe_load((REPO / "config/config.yaml").read_text())["models"][like]
    )
    blocks[name] = {**source, "sampler": {**source.get("sampler", {}), "seed": seed}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument(
        "--analyses", default=None, help="comma-separated analyses to run (default: the config's)"
    )
    args = parser.parse_args()
    extra = ("--config", f"analyses=[{args.analyses}]") if args.analyses else ()
    load = LoadWatch()

    workdir = copy_repo(Path(tempfile.mkdtemp()) / "repo")
    settings = yaml.safe_load((workdir / args.configfile).read_text())
    seconds, jobs = run(workdir, args.configfile, args.cores, *extra)
    rows = [
        {
            "change": "first run (nothing done before)",
            "seconds": round(seconds, 1),
            "jobs": sum(jobs.values()),
            "rules": jobs,
            "dry_run_matches": None,
        }
    ]
    for label, apply in changes(args.configfile, settings):
        apply(workdir)
        _, planned = run(workdir, args.configfile, args.cores, *extra, "--dry-run")
        seconds, jobs = run(workdir, args.configfile, args.cores, *extra)
        rows.append(
            {
                "change": label,
                "seconds": round(seconds, 1),
                "jobs": sum(jobs.values()),
                "rules": jobs,
                "dry_run_matches": planned == jobs,
            }
        )

    print(f"{'change':<48}{'jobs':>6}{'wall s':>9}  dry run = run  rules run")
    for row in rows:
        match = "" if row["dry_run_matches"] is None else str(row["dry_run_matches"])
        rules = (
            ", ".join(sorted(row["rules"])) if row["jobs"] < 10 else f"{len(row['rules'])} rules"
        )
        print(f"{row['change']:<48}{row['jobs']:>6}{row['seconds']:>9.1f}  {match:<13}  {rules}")
    load.finish()
    load.report()
    out = REPO / "benchmarks" / "results" / "rerun.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "configfile": args.configfile,
                "cores": args.cores,
                "analyses": args.analyses,
                "runs": rows,
                "load": load.record(),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
