"""``bayespipe lineage <file>``: the chain of jobs from a result file back to the raw inputs.

Everything comes from the version's manifest: for each file, the job that wrote it (rule, script
or Stan program with its sha256, params) and that job's inputs with the hashes the job read;
inputs inside the version folder are followed further, inputs outside it are raw data. Each hash
is also checked against the file on disk now, so a lineage shows where a chain no longer holds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.errors import InputError
from bayespipe.io import read_json, sha256_file
from bayespipe.provenance import MANIFEST
from bayespipe.versioning import WORK_FOLDER


@dataclass
class InputRef:
    path: str  # as the job recorded it
    sha256: str | None
    in_version: str | None  # the path inside the version folder, None for raw inputs
    status: str  # ok | modified | missing
    kind: str = (
        "raw"  # result (inside the version) | code (a recorded code file) | raw (input data)
    )


@dataclass
class Step:
    file: str  # relative to the version folder
    sha256: str | None
    status: str  # ok | modified | missing | unlisted
    kind: str | None = None
    rule: str | None = None
    job: str | None = None
    script: dict | None = None
    stan_program: dict | None = None
    params: dict = field(default_factory=dict)
    inputs: list[InputRef] = field(default_factory=list)


@dataclass
class Lineage:
    version: str
    version_dir: str
    target: str
    steps: list[Step]
    raw_inputs: list[InputRef]
    code_inputs: list[InputRef]
    software: dict
    stan_engine: dict
    git: dict | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def find_version_dir(path: Path) -> Path:
    """The version folder that holds ``path`` (the nearest parent with a manifest)."""
    for parent in [path, *path.parents]:
        if (parent / MANIFEST).is_file():
            return parent
    raise InputError(
        path, f"not inside a complete version folder (no {MANIFEST} in any parent folder)"
    )


def path_in_version(path: str, manifest: dict) -> str | None:
    """A recorded path as a path inside the version folder, if it points into a version folder.

    Jobs record paths relative to the workflow directory (``results/<version>/<analysis>/...``);
    a job reused from an earlier version names that version's folder, whose files now live at
    the same place inside this one.
    """
    results = Path(manifest.get("config", {}).get("results_dir", "results"))
    parts = Path(path).parts
    if Path(path).is_absolute():
        workdir = Path(manifest.get("workdir") or "/")
        try:
            parts = Path(path).relative_to(workdir).parts
        except ValueError:
            return None
    if parts[: len(results.parts)] != results.parts:
        return None
    inside = parts[len(results.parts) :]
    skip = 2 if inside[:1] == (WORK_FOLDER,) else 1  # results/.work/<label>/... or results/<v>/...
    return str(Path(*inside[skip:])) if len(inside) > skip else None


def _status(path: Path, sha256: str | None) -> str:
    if not path.is_file():
        return "missing"
    return "ok" if sha256 is None or sha256_file(path) == sha256 else "modified"


def lineage(file: str | Path, workdir: str | Path | None = None) -> Lineage:
    """The lineage of ``file`` (a path to a file inside a version folder)."""
    file = Path(file)
    absolute = file.resolve()
    version_dir = find_version_dir(absolute.parent)
    manifest = read_json(version_dir / MANIFEST)
    files = {entry["path"]: entry for entry in manifest.get("files", [])}
    raw_root = Path(workdir or manifest.get("workdir") or ".")
    target = str(absolute.relative_to(version_dir))
    if target not in files:
        raise InputError(file, f"not listed in {version_dir / MANIFEST}: no recorded lineage")

    code = manifest.get("code") or {}
    steps, raw, code_inputs, seen_files, seen_raw = [], [], [], set(), set()
    queue = [target]
    while queue:
        rel = queue.pop(0)
        if rel in seen_files:
            continue
        seen_files.add(rel)
        entry = files.get(rel)
        if entry is None:
            steps.append(Step(rel, None, "unlisted"))
            continue
        step = Step(
            rel,
            entry["sha256"],
            _status(version_dir / rel, entry["sha256"]),
            entry.get("kind"),
            entry.get("rule"),
            entry.get("job"),
            entry.get("script"),
            entry.get("stan_program"),
            entry.get("params") or {},
        )
        for item in entry.get("inputs", []):
            inside = path_in_version(item["path"], manifest)
            if inside is not None:
                ref = InputRef(
                    item["path"],
                    item["sha256"],
                    inside,
                    _status(version_dir / inside, item["sha256"]),
                    "result",
                )
                queue.append(inside)
            else:
                full = (
                    Path(item["path"])
                    if Path(item["path"]).is_absolute()
                    else raw_root / item["path"]
                )
                kind = "code" if item["path"] in code else "raw"
                ref = InputRef(
                    item["path"], item["sha256"], None, _status(full, item["sha256"]), kind
                )
                if (item["path"], item["sha256"]) not in seen_raw:
                    seen_raw.add((item["path"], item["sha256"]))
                    (code_inputs if kind == "code" else raw).append(ref)
            step.inputs.append(ref)
        steps.append(step)
    return Lineage(
        manifest.get("version", version_dir.name),
        str(version_dir),
        target,
        steps,
        raw,
        code_inputs,
        manifest.get("software", {}),
        manifest.get("stan_engine", {}),
        manifest.get("git"),
    )


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _params_text(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def format_lineage(result: Lineage) -> str:
    lines = [f"lineage of {result.target} (version {result.version}, {result.version_dir})", ""]
    for step in result.steps:
        lines.append(f"{step.file}  sha256 {_short(step.sha256)}  [{step.status}]")
        if step.rule is None:
            lines.append("    not written by a recorded job")
            continue
        lines.append(f"    <- rule {step.rule}  ({step.kind}; job record {step.job})")
        if step.script:
            lines.append(
                f"       script       {step.script.get('path')}  "
                f"sha256 {_short(step.script.get('sha256'))}"
            )
        if step.stan_program:
            lines.append(
                f"       stan program {step.stan_program.get('path')}  "
                f"sha256 {_short(step.stan_program.get('sha256'))}"
            )
        for key, value in sorted(step.params.items()):
            text = _params_text(value)
            lines.append(
                f"       param        {key} = {text if len(text) <= 300 else text[:297] + '...'}"
            )
        for ref in step.inputs:
            where = (
                ref.in_version
                if ref.in_version
                else f"{ref.path} ({'code' if ref.kind == 'code' else 'raw input'})"
            )
            lines.append(
                f"       input        {where}  sha256 {_short(ref.sha256)}  [{ref.status}]"
            )
        lines.append("")
    lines.append("raw inputs:")
    lines += [
        f"    {r.path}  sha256 {_short(r.sha256)}  [{r.status}]" for r in result.raw_inputs
    ] or ["    (none)"]
    if result.code_inputs:
        lines.append("code read as inputs:")
        lines += [
            f"    {r.path}  sha256 {_short(r.sha256)}  [{r.status}]" for r in result.code_inputs
        ]
    engine = ", ".join(f"{k} {v}" for k, v in result.stan_engine.items())
    lines += ["", f"stan engine: {engine or '-'}", "software:"]
    lines += [f"    {k} {v}" for k, v in sorted(result.software.items()) if v]
    git = result.git or {}
    lines.append(f"code commit: {git.get('commit', '-')}{' (dirty)' if git.get('dirty') else ''}")
    return "\n".join(lines)


def broken(result: Lineage) -> list[str]:
    """Files and inputs of the chain whose current content no longer matches the record."""
    bad = [f"{s.file}: {s.status}" for s in result.steps if s.status != "ok"]
    bad += [
        f"{r.path}: {r.status}" for r in result.raw_inputs + result.code_inputs if r.status != "ok"
    ]
    return bad


def add_command(commands) -> None:
    """``bayespipe lineage FILE [--json]``."""
    parser = commands.add_parser(
        "lineage", help="the chain of jobs from a result file back to its raw inputs"
    )
    parser.add_argument(
        "file",
        type=Path,
        help="a file inside a version folder, e.g. results/latest/tadpoles/data/reedfrogs.parquet",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where raw inputs are resolved (default: the run's workflow folder)",
    )
    parser.add_argument("--json", action="store_true", help="print the lineage as JSON")
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    import sys

    try:
        result = lineage(args.file, workdir=args.workdir)
    except (InputError, OSError, ValueError) as exc:
        print(f"bayespipe lineage: {exc}", file=sys.stderr)
        return 2
    print(result.to_json() if args.json else format_lineage(result))
    return 1 if broken(result) else 0
