"""``bayespipe diff <version-a> <version-b>``.

What differs between two versions, from their manifests.

Config keys (dotted), code files, raw input data, software and Stan engine, changed result files
(outputs only: logs, benchmarks and job records always differ), and the numbers in metrics and
diagnostics JSON files present in both. Outputs and numbers that differ only in the fields their
writer declares per-run (wall-clock seconds; ``bayespipe.audit.volatile``) are listed apart and
do not count as a difference. The comparison of values is ``bayespipe.audit.compare``,
shared with ``reproduce``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.audit.compare import Change, compare_maps, flatten, numeric_changes
from bayespipe.audit.comparers import EQUIVALENT, compare_file
from bayespipe.audit.volatile import declared, kind_of
from bayespipe.errors import InputError
from bayespipe.filekinds import json_kind
from bayespipe.io import read_json
from bayespipe.provenance import MANIFEST
from bayespipe.versions import version_path

ALWAYS_REBUILT = ("report/",)  # results of the whole version: differ whenever anything does
METRIC_KINDS = ("metrics", "diagnostics", "data_card")


@dataclass
class VersionDiff:
    a: str
    b: str
    config: list[Change] = field(default_factory=list)
    code: list[Change] = field(default_factory=list)
    data: list[Change] = field(default_factory=list)
    software: list[Change] = field(default_factory=list)
    stan_engine: list[Change] = field(default_factory=list)
    jobs_run: list[str] = field(default_factory=list)  # rules whose jobs ran in b's own run
    jobs_reused: int = 0  # jobs of b whose files b's run took from an earlier run
    outputs_changed: list[str] = field(default_factory=list)
    outputs_per_run: list[str] = field(default_factory=list)  # only per-run fields differ
    outputs_added: list[str] = field(default_factory=list)
    outputs_removed: list[str] = field(default_factory=list)
    report_changed: list[str] = field(default_factory=list)
    metrics: list[Change] = field(default_factory=list)
    metrics_per_run: list[Change] = field(default_factory=list)  # wall-clock seconds and such

    @property
    def empty(self) -> bool:
        return not any(
            getattr(self, name)
            for name in (
                "config",
                "code",
                "data",
                "software",
                "stan_engine",
                "outputs_changed",
                "outputs_added",
                "outputs_removed",
                "metrics",
            )
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def load_version(path: str | Path) -> tuple[Path, dict]:
    folder = Path(path).resolve()
    if not (folder / MANIFEST).is_file():
        raise InputError(folder, f"not a complete version folder (no {MANIFEST})")
    return folder, read_json(folder / MANIFEST)


def metric_changes(dir_a: Path, dir_b: Path, paths: list[str]) -> list[Change]:
    """Numbers that differ in the metrics and diagnostics files of both versions."""
    changes = []
    for rel in paths:
        if not rel.endswith(".json") or json_kind(Path(rel).name) not in METRIC_KINDS:
            continue
        try:
            a, b = read_json(dir_a / rel), read_json(dir_b / rel)
        except (OSError, ValueError):
            continue
        changes += numeric_changes(a, b, prefix=f"{rel}:")
    return changes


def diff_versions(path_a: str | Path, path_b: str | Path) -> VersionDiff:
    dir_a, a = load_version(path_a)
    dir_b, b = load_version(path_b)
    result = VersionDiff(a.get("version", dir_a.name), b.get("version", dir_b.name))
    result.config = compare_maps(flatten(a.get("config", {})), flatten(b.get("config", {})))
    result.code = compare_maps(a.get("code", {}), b.get("code", {}))
    result.data = compare_maps(flatten(a.get("data", {})), flatten(b.get("data", {})))
    result.software = compare_maps(a.get("software", {}), b.get("software", {}))
    result.stan_engine = compare_maps(a.get("stan_engine", {}), b.get("stan_engine", {}))
    jobs_b = b.get("jobs", [])
    result.jobs_run = sorted({job["rule"] for job in jobs_b if not job.get("reused_from")})
    result.jobs_reused = sum(1 for job in jobs_b if job.get("reused_from"))

    outputs_a = {f["path"]: f["sha256"] for f in a.get("files", []) if f.get("kind") == "output"}
    outputs_b = {f["path"]: f["sha256"] for f in b.get("files", []) if f.get("kind") == "output"}
    for rel in sorted(set(outputs_a) | set(outputs_b)):
        rebuilt = rel.startswith(ALWAYS_REBUILT)
        if rel not in outputs_b:
            result.outputs_removed.append(rel)
        elif rel not in outputs_a:
            result.outputs_added.append(rel)
        elif rebuilt and outputs_a[rel] != outputs_b[rel]:
            result.report_changed.append(rel)
        elif outputs_a[rel] != outputs_b[rel]:
            per_run = _only_per_run_fields(rel, dir_a, dir_b)
            (result.outputs_per_run if per_run else result.outputs_changed).append(rel)
    both = sorted(set(outputs_a) & set(outputs_b))
    for change in metric_changes(dir_a, dir_b, both):
        rel, key = change.key.split(":", 1)
        kind = kind_of(rel)
        per_run = kind is not None and declared(key, kind.fields)
        (result.metrics_per_run if per_run else result.metrics).append(change)
    return result


def _only_per_run_fields(rel: str, dir_a: Path, dir_b: Path) -> bool:
    """Whether two copies of an output differ only in fields declared per-run (as reproduce)."""
    a, b = dir_a / rel, dir_b / rel
    if not (a.is_file() and b.is_file()):
        return False
    return compare_file(rel, a, b, None, []).status == EQUIVALENT


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def format_diff(result: VersionDiff) -> str:
    lines = [f"diff {result.a} -> {result.b}"]

    def changes(title: str, items: list[Change], short_hash: bool = False) -> None:
        plural = "s" if len(items) != 1 else ""
        lines.append(f"\n{title}: {len(items) or 'no'} difference{plural}")
        for c in items:
            if short_hash:
                a, b = (str(c.a)[:12] if c.a else "absent", str(c.b)[:12] if c.b else "absent")
            else:
                a, b = _value(c.a), _value(c.b)
            lines.append(f"  {c.key}: {a} -> {b}")

    def paths(title: str, items: list[str]) -> None:
        if items:
            lines.append(f"\n{title} ({len(items)}):")
            lines.extend(f"  {p}" for p in items)

    changes("config", result.config)
    changes("code files", result.code, short_hash=True)
    changes("input data", result.data, short_hash=True)
    changes("software", result.software)
    changes("stan engine", result.stan_engine)
    ran = ", ".join(result.jobs_run) or "none"
    lines.append(f"\njobs run for {result.b}: {ran}; {result.jobs_reused} jobs reused")
    lines.append(
        f"\noutputs: {len(result.outputs_changed)} changed, {len(result.outputs_added)} added, "
        f"{len(result.outputs_removed)} removed, "
        f"{len(result.outputs_per_run)} differing only in per-run fields"
    )
    paths("changed outputs", result.outputs_changed)
    paths("outputs differing only in per-run fields or file metadata", result.outputs_per_run)
    paths("added outputs", result.outputs_added)
    paths("removed outputs", result.outputs_removed)
    paths("report files rebuilt", result.report_changed)
    changes("key metrics", result.metrics)
    if result.metrics_per_run:
        changes("per-run fields (not results)", result.metrics_per_run)
    return "\n".join(lines)


def add_command(commands) -> None:
    """``bayespipe diff A B [--json]``: exit 0 when nothing differs, 1 otherwise."""
    parser = commands.add_parser(
        "diff",
        help="what differs between two versions: config, code, data, software, outputs, metrics",
    )
    parser.add_argument("version_a", type=version_path, help="a version folder, id or tag")
    parser.add_argument("version_b", type=version_path, help="a version folder, id or tag")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    import sys

    try:
        result = diff_versions(args.version_a, args.version_b)
    except (InputError, OSError, ValueError) as exc:
        print(f"bayespipe diff: {exc}", file=sys.stderr)
        return 2
    print(result.to_json() if args.json else format_diff(result))
    return 0 if result.empty else 1
