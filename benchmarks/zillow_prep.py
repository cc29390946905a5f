"""Zillow data stage at Kaggle scale: our chain against a plain pandas baseline.

Generates the Kaggle-scale synthetic files once (2,985,217 properties, about 620 MB, and 90,275
transactions) into --data-dir (outside the repository by default), then runs, each in its own
process:

  baseline  pandas.read_csv of both files with every column (default engine), then the merge
  chain     bayespipe.analyses.zillow.prep.prepare_all: merge (properties streamed and filtered by
            the sold parcel ids) -> drop sparse columns -> predictors -> drop rows -> split -> zip
            groups -> standardize -> missing-data table, writing every intermediate file

and reports wall seconds (measured by the parent, interpreter start-up included) and peak RSS
(the child's own ru_maxrss). Targets: chain wall <= 1/2 and peak RSS <= 1/4 of the baseline's.

    .venv/bin/python benchmarks/zillow_prep.py [--data-dir DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _load import LoadWatch
from bayespipe.analyses.zillow import kaggle, synthetic

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(tempfile.gettempdir()) / "bayespipe-bench" / "zillow-kaggle"
SETTINGS = {"max_null_fraction": 0.5, "n_predictors": 3, "validation_fraction": 0.5, "seed": 2016}

CHILD_FOOTER = """
import json, resource
peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"peak_rss_mb": peak_rss_mb, "rows": rows}))
"""

BASELINE = """
import pandas as pd
transactions = pd.read_csv({transactions!r})
properties = pd.read_csv({properties!r})
merged = transactions.merge(properties, on="parcelid", how="left")
rows = len(merged)
"""

CHAIN = """
from bayespipe.analyses.zillow import prep
reports = prep.prepare_all({transactions!r}, {properties!r}, {folder!r}, {settings!r})
rows = reports["split"]["train"] + reports["split"]["validation"]
"""


def ensure_data(folder: Path, seed: int) -> tuple[Path, Path, float | None]:
    """The Kaggle-scale files, generated unless a previous run left them for the same seed."""
    transactions, properties = folder / kaggle.TRANSACTIONS_FILE, folder / kaggle.PROPERTIES_FILE
    stamp = folder / "seed.json"
    if (
        transactions.exists()
        and properties.exists()
        and stamp.exists()
        and json.loads(stamp.read_text()) == seed
    ):
        return transactions, properties, None
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_properties, n_transactions = synthetic.sizes({"scale": "kaggle"})
    synthetic.generate(
        seed, n_properties, n_transactions, 400, transactions, properties, folder / "truth.json"
    )
    stamp.write_text(json.dumps(seed))
    return transactions, properties, time.perf_counter() - start


def run_child(code: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + CHILD_FOOTER],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))[7:])
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "rows": result["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "zillow_prep.json"
    )
    args = parser.parse_args()

    transactions, properties, generation_s = ensure_data(args.data_dir, args.seed)
    load = LoadWatch()  # after generating the data, which loads the machine itself
    files = {"transactions": str(transactions), "properties": str(properties)}
    with tempfile.TemporaryDirectory(prefix="zillow-chain-") as folder:
        chain = run_child(CHAIN.format(**files, folder=folder, settings=SETTINGS))
    baseline = run_child(BASELINE.format(**files))
    ratios = {
        "wall": chain["wall_s"] / baseline["wall_s"],
        "peak_rss": chain["peak_rss_mb"] / baseline["peak_rss_mb"],
    }
    result = {
        "properties_mb": round(properties.stat().st_size / 2**20, 1),
        "generation_s": None if generation_s is None else round(generation_s, 1),
        "baseline": baseline,
        "chain": chain,
        "ratio": {k: round(v, 3) for k, v in ratios.items()},
        "targets": {"wall": 0.5, "peak_rss": 0.25},
        "met": {"wall": ratios["wall"] <= 0.5, "peak_rss": ratios["peak_rss"] <= 0.25},
        "load": load.finish(),
    }
    print(
        f"properties_2016.csv: {result['properties_mb']} MB"
        + (f" (generated in {result['generation_s']} s)" if generation_s else " (cached)")
    )
    print(f"{'run':<10}{'wall s':>10}{'peak RSS MB':>14}{'rows':>10}")
    for name in ("baseline", "chain"):
        r = result[name]
        print(f"{name:<10}{r['wall_s']:>10.2f}{r['peak_rss_mb']:>14.1f}{r['rows']:>10}")
    print(
        f"{'ratio':<10}{ratios['wall']:>10.3f}{ratios['peak_rss']:>14.3f}"
        "   (targets <= 0.5 and <= 0.25)"
    )
    load.report()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
