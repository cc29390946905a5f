"""Benchmark of the version-level tools.

HTML report (with and without its What changed section, HTML5 validation), RO-Crate (build + offline
validation), lineage, diff, audit and reproduce, on one complete version folder.

    .venv/bin/python benchmarks/report.py results/<version> [--reproduce]

Each step runs once (the machine is shared; numbers are wall seconds with the load average).
``--reproduce`` also re-runs the whole version in a scratch folder (as long as the run itself).
Prints a table and writes benchmarks/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from _load import LoadWatch  # noqa: E402
from bayespipe.audit.check import audit  # noqa: E402
from bayespipe.audit.diff import diff_versions  # noqa: E402
from bayespipe.audit.lineage import lineage  # noqa: E402
from bayespipe.audit.reproduce import reproduce  # noqa: E402
from bayespipe.audit.rocrate import build_crate  # noqa: E402
from bayespipe.audit.rocrate_validate import validate_crate  # noqa: E402
from bayespipe.io import read_json  # noqa: E402
from bayespipe.report.html import RunInfo, render  # noqa: E402


def timed(label: str, rows: list, fn, note=lambda value: ""):
    start = time.perf_counter()
    value = fn()
    rows.append(
        {"step": label, "seconds": round(time.perf_counter() - start, 3), "note": note(value)}
    )
    return value


def run_info(manifest: dict) -> RunInfo:
    return RunInfo(
        manifest["version"],
        manifest["config"],
        manifest["software"],
        manifest["stan_engine"],
        manifest["analyses"],
        manifest.get("reused", {}),
        manifest.get("git"),
        manifest.get("host", {}),
        code=manifest.get("code", {}),
        data=manifest.get("data", {}),
    )


def report_steps(version: Path, info: RunInfo, rows: list) -> str:
    target = version / "report" / "index.html"
    html = timed(
        "render HTML report",
        rows,
        lambda: render(version, target, info),
        lambda text: f"{len(text) / 1e3:.0f} kB",
    )
    timed(
        "render HTML report + What changed",
        rows,
        lambda: render(version, target, info, results_dir=version.parent),
        lambda text: "compared" if "Compared with version" in text else "no earlier version",
    )
    try:
        import html5lib
    except ImportError:
        rows.append({"step": "validate HTML", "seconds": None, "note": "html5lib missing"})
    else:
        timed(
            "validate HTML (html5lib strict)",
            rows,
            lambda: html5lib.HTMLParser(strict=True).parse(html),
            lambda _: "valid",
        )
    return html


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dir", type=Path)
    parser.add_argument("--reproduce", action="store_true")
    args = parser.parse_args()
    load = LoadWatch()
    version = args.version_dir.resolve()
    manifest = read_json(version / "manifest.json")
    outputs = [f["path"] for f in manifest["files"] if f["kind"] == "output"]
    rows: list[dict] = []
    html = report_steps(version, run_info(manifest), rows)
    crate = timed(
        "build RO-Crate",
        rows,
        lambda: build_crate(version, manifest),
        lambda c: f"{len(c.get_entities())} entities",
    )
    with tempfile.TemporaryDirectory() as cache:
        timed(
            "validate RO-Crate offline",
            rows,
            lambda: validate_crate(version, Path(cache) / "c"),
            lambda failures: "valid" if not failures else f"{len(failures)} failures",
        )
    timed(
        f"lineage of {len(outputs)} outputs",
        rows,
        lambda: [lineage(version / p) for p in outputs],
        lambda results: f"{max(len(r.steps) for r in results)} steps deepest",
    )
    timed(
        "diff with itself",
        rows,
        lambda: diff_versions(version, version),
        lambda d: "empty" if d.empty else "differs",
    )
    timed("audit", rows, lambda: audit(version), lambda problems: f"{len(problems)} problems")
    if args.reproduce:
        timed(
            "reproduce (full re-run)",
            rows,
            lambda: reproduce(version),
            lambda r: f"{r.counts()}; {'OK' if r.ok else 'NOT reproduced'}",
        )
    load.finish()
    print(
        f"version {manifest['version']}: {len(manifest['files'])} files, "
        f"{len(manifest['jobs'])} jobs; report {len(html) / 1e3:.0f} kB, "
        f"crate {len(crate.get_entities())} entities"
    )
    print(f"{'step':36} {'seconds':>8}  note")
    for row in rows:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:8.3f}"
        print(f"{row['step']:36} {seconds:>8}  {row['note']}")
    load.report()
    out = ROOT / "benchmarks" / "results" / "report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "version": manifest["version"],
                "files": len(manifest["files"]),
                "jobs": len(manifest["jobs"]),
                "rows": rows,
                "load": load.record(),
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
