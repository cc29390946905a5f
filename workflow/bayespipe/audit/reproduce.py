"""``bayespipe reproduce <version>``: re-run a version's recorded config and code, compare every file.

1. The recorded code: the version's own snapshot (``report/code-snapshot/``), else the original
   checkout, else ``git archive`` of the recorded commit; whichever is used must match every
   sha256 the manifest records under ``code``.
2. A scratch checkout: that code, ``config/config.yaml`` = the recorded (complete) config, and
   the raw inputs linked from the original workflow folder (their hashes checked).
3. Snakemake runs there; its version id must equal the original's (same config, code, data and
   software), then every file of the two version folders is compared.

Files fall into classes: bit-identical; equivalent (same values, only wall-clock fields, paths or
file metadata differ: logs, benchmarks, job records, manifest, crate, report, JSON/CSV/Parquet/
netCDF compared by content); expected differences (figures, GPU or non-deterministic stages,
another software stack) listed with the size of the difference; and unexpected differences,
which make the command exit 1. A file tampered with after the run is reported twice: by the
audit that runs first, and as an unexpected difference.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bayespipe.catalog import ANALYSES
from bayespipe.io import read_json, sha256_file
from bayespipe.provenance import METADATA_FILES
from bayespipe.report.snapshot import verify_snapshot
from bayespipe.audit.check import audit
from bayespipe.audit.diff import compare_maps, flatten, load_version

SNAPSHOT = Path("report/code-snapshot")
# Written per run whatever the numbers: only their existence is compared.
VOLATILE = re.compile(r"(^|/)(logs/[^/]+\.(log|job\.json)|benchmarks/[^/]+\.tsv|report/index\.html|\.snakemake_timestamp)$")
FIGURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".gif")
# Words of JSON keys whose values are clocks, hosts or locations rather than results
# ('wall_seconds', 'start_time', 'created_at', 'host', 'cache_dir', ...).
VOLATILE_WORDS = {"time", "seconds", "second", "duration", "elapsed", "date", "timestamp", "at", "host", "hostname", "pid",
                  "path", "dir", "workdir", "cache"}


def volatile_key(key: str) -> bool:
    return bool(VOLATILE_WORDS & set(re.split(r"[_\W]+", key.lower())))
IDENTICAL, EQUIVALENT, EXPECTED, UNEXPECTED = "identical", "equivalent", "expected", "unexpected"


class ReproduceError(RuntimeError):
    """The version cannot be re-run (no matching code, no manifest, ...)."""


@dataclass
class FileComparison:
    path: str
    status: str  # identical | equivalent | expected | unexpected
    detail: str = ""
    size_a: int | None = None
    size_b: int | None = None


@dataclass
class ReproduceResult:
    version: str
    reproduced_version: str | None
    code_source: str
    scratch: str | None
    run_ok: bool
    audit_problems: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)  # differences in software / engine
    files: list[FileComparison] = field(default_factory=list)
    log_tail: str = ""

    @property
    def unexpected(self) -> list[FileComparison]:
        return [f for f in self.files if f.status == UNEXPECTED]

    @property
    def ok(self) -> bool:
        return self.run_ok and not self.unexpected and not self.audit_problems

    def counts(self) -> dict[str, int]:
        out = {IDENTICAL: 0, EQUIVALENT: 0, EXPECTED: 0, UNEXPECTED: 0}
        for f in self.files:
            out[f.status] += 1
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["counts"] = self.counts()
        data["ok"] = self.ok
        return json.dumps(data, indent=2, sort_keys=True, default=str)


# -- code and inputs --------------------------------------------------------------------------
def _code_from(folder: Path, code: dict[str, str]) -> bool:
    return folder.is_dir() and not verify_snapshot(folder, code)


def _git_archive(workdir: Path, commit: str, scratch: Path) -> Path | None:
    target = scratch / "git-archive"
    target.mkdir()
    try:
        archive = subprocess.run(["git", "archive", commit], cwd=workdir, capture_output=True, check=True, timeout=120).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def locate_code(version_dir: Path, manifest: dict, workdir: Path, scratch: Path) -> tuple[Path, str]:
    """A folder holding exactly the recorded code, and where it came from."""
    code = manifest.get("code") or {}
    if not code:
        raise ReproduceError(f"{version_dir}/manifest.json records no code hashes")
    if _code_from(version_dir / SNAPSHOT, code):
        return version_dir / SNAPSHOT, f"snapshot {SNAPSHOT}"
    if _code_from(workdir, code):
        return workdir, f"checkout {workdir}"
    commit = (manifest.get("git") or {}).get("commit")
    if commit:
        archived = _git_archive(workdir, commit, scratch)
        if archived and _code_from(archived, code):
            return archived, f"git commit {commit}"
    raise ReproduceError(
        "the recorded code is not available: the version has no intact code snapshot, the checkout "
        f"{workdir} has other code, and no git commit matches every recorded sha256"
    )


def _copy_code(source: Path, code: dict[str, str], target: Path) -> None:
    for rel in code:
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, destination)


def _raw_paths(manifest: dict) -> list[str]:
    """Relative paths of raw inputs: the data keys of the config and the jobs' outside inputs."""
    from bayespipe.audit.lineage import path_in_version

    config = manifest.get("config", {})
    paths = []
    for key in sorted({k for a in ANALYSES.values() for k in a.data_keys}):
        value = flatten(config).get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            paths.append(value)
    for job in manifest.get("jobs", []):
        for item in job.get("inputs", []):
            if path_in_version(item["path"], manifest) is None and not Path(item["path"]).is_absolute():
                paths.append(item["path"])
    return sorted(set(paths))


def link_raw_inputs(manifest: dict, source: Path, target: Path) -> list[str]:
    """Symlink raw inputs into the scratch checkout; returns problems (missing or changed inputs)."""
    problems = []
    root = target.parent.parent  # the scratch folder: relative paths may climb at most two levels
    raw_paths = _raw_paths(manifest)
    for rel in raw_paths:
        origin = (source / rel).resolve()
        link = Path(os.path.normpath(target / rel))
        if not origin.exists():
            problems.append(f"raw input {rel} is missing under {source}")
            continue
        if not str(link).startswith(str(root)):
            problems.append(f"raw input {rel} lies outside what the scratch checkout can mirror")
            continue
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(origin)
    recorded = {(i["path"], i["sha256"]) for job in manifest.get("jobs", []) for i in job.get("inputs", [])}
    for rel, sha in sorted(recorded):
        full = target / rel
        if rel in raw_paths and full.is_file() and sha256_file(full) != sha:
            problems.append(f"raw input {rel} changed since the run (sha256 differs)")
    return problems


def run_workflow(checkout: Path, cores: int, timeout: int | None) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    snakemake = [str(bindir / "snakemake")] if (bindir / "snakemake").exists() else [sys.executable, "-m", "snakemake"]
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    # The recorded package, not the one installed (editable) from whichever checkout: PYTHONPATH
    # comes before site-packages for the Snakefile's imports and every script job alike.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout / "workflow"), env.get("PYTHONPATH")]))
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    return subprocess.run(
        [*snakemake, "--cores", str(cores), "--configfile", "config/config.yaml"],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )


# -- comparing files --------------------------------------------------------------------------
def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if not volatile_key(str(k))}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def _max_numeric_difference(a: Any, b: Any) -> float | None:
    """Largest absolute difference between corresponding numbers, or None if the shapes differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return None
        parts = [_max_numeric_difference(a[k], b[k]) for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return None
        parts = [_max_numeric_difference(x, y) for x, y in zip(a, b)]
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) and math.isnan(b):
            return 0.0
        return abs(float(a) - float(b))
    else:
        return 0.0 if a == b else None
    if any(p is None for p in parts):
        return None
    return max(parts, default=0.0)


def _difference_text(a: Any, b: Any) -> str:
    delta = _max_numeric_difference(a, b)
    return f"max |difference| {delta:.3g}" if delta is not None else "structure differs"


def compare_json(path_a: Path, path_b: Path) -> tuple[bool, str]:
    a, b = read_json(path_a), read_json(path_b)
    if _strip_volatile(a) == _strip_volatile(b):
        return True, "same values; only wall-clock, host or path fields differ"
    return False, _difference_text(_strip_volatile(a), _strip_volatile(b))


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return [row for row in csv.reader(line for line in handle if not line.startswith("#"))]


def _without_volatile_columns(rows: list[list[str]]) -> list[list[str]]:
    """Drop columns whose header names a clock (e.g. a training history's 'seconds')."""
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if not volatile_key(name)]
    return [[row[i] for i in keep if i < len(row)] for row in rows]


def compare_csv(path_a: Path, path_b: Path) -> tuple[bool, str]:
    a, b = _csv_rows(path_a), _csv_rows(path_b)
    if a == b:
        return True, "same rows; only comment lines (timings, paths) differ"
    if a and b and a[0] == b[0]:
        a, b = _without_volatile_columns(a), _without_volatile_columns(b)
        if a == b:
            return True, "same values; only wall-clock columns differ"
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        return False, f"shape differs: {len(a)} vs {len(b)} rows"
    cells_a, cells_b = _cells(a), _cells(b)
    text = [(x, y) for ra, rb in zip(cells_a, cells_b) for x, y in zip(ra, rb) if x != y and (isinstance(x, str) or isinstance(y, str))]
    if text:
        return False, f"{len(text)} text cells differ (e.g. {text[0][0]!r} vs {text[0][1]!r})"
    return False, _difference_text(cells_a, cells_b)


def _cells(rows: list[list[str]]) -> list:
    def number(text: str):
        try:
            return float(text)
        except ValueError:
            return text

    return [[number(v) for v in row] for row in rows]


def compare_parquet(path_a: Path, path_b: Path) -> tuple[bool, str]:
    import pandas as pd

    a, b = pd.read_parquet(path_a), pd.read_parquet(path_b)
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return False, f"shape differs: {a.shape} vs {b.shape}"
    if a.equals(b):
        return True, "same table; only file metadata differs"
    numeric = a.select_dtypes("number").columns
    delta = float((a[numeric] - b[numeric]).abs().max().max()) if len(numeric) else float("nan")
    return False, f"max |difference| {delta:.3g} over numeric columns"


def compare_netcdf(path_a: Path, path_b: Path) -> tuple[bool, str]:
    """ArviZ/xarray netCDF by content: values and coordinates of every group (attributes ignored)."""
    import numpy as np
    import xarray as xr

    worst, problems = 0.0, []
    for group in _netcdf_groups(path_a):
        with xr.open_dataset(path_a, group=group, engine="h5netcdf") as a, xr.open_dataset(path_b, group=group, engine="h5netcdf") as b:
            if a.equals(b):
                continue
            if set(a.data_vars) != set(b.data_vars):
                return False, f"group {group}: variables differ"
            problems += [f"group {group}: coordinate {c} differs" for c in a.coords if c not in b.coords or not a[c].equals(b[c])]
            for name in a.data_vars:
                left, right = np.asarray(a[name].values), np.asarray(b[name].values)
                if left.shape != right.shape:
                    return False, f"group {group}: {name} shape {left.shape} vs {right.shape}"
                if left.dtype.kind in "fiub" and right.dtype.kind in "fiub":
                    worst = max(worst, float(np.nanmax(np.abs(left.astype(float) - right.astype(float)), initial=0.0)))
                elif not np.array_equal(left, right):
                    problems.append(f"group {group}: {name} differs")
    if worst == 0.0 and not problems:
        return True, "same values; only attributes (e.g. created_at) differ"
    return False, "; ".join(problems + ([f"max |difference| {worst:.3g}"] if worst else ["same values"]))


def _netcdf_groups(path: Path) -> list[str | None]:
    import h5netcdf

    with h5netcdf.File(path, "r") as handle:
        return list(handle.groups) or [None]


def compare_hdf5(path_a: Path, path_b: Path) -> tuple[bool, str]:
    """HDF5 files (Keras weights) by their datasets: object headers carry timestamps."""
    import h5py
    import numpy as np

    def datasets(handle) -> dict:
        found = {}
        handle.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return found

    with h5py.File(path_a, "r") as a, h5py.File(path_b, "r") as b:
        left, right = datasets(a), datasets(b)
    if set(left) != set(right):
        return False, "datasets differ"
    worst = 0.0
    for name, value in left.items():
        other = right[name]
        if np.shape(value) != np.shape(other):
            return False, f"{name}: shape differs"
        if not np.array_equal(value, other):
            try:
                worst = max(worst, float(np.max(np.abs(np.asarray(value, float) - np.asarray(other, float)))))
            except (TypeError, ValueError):
                return False, f"{name} differs"
    return (worst == 0.0), ("same datasets; only HDF5 metadata differs" if worst == 0.0 else f"max |difference| {worst:.3g}")


def compare_npz(path_a: Path, path_b: Path) -> tuple[bool, str]:
    import numpy as np

    with np.load(path_a, allow_pickle=False) as a, np.load(path_b, allow_pickle=False) as b:
        if set(a.files) != set(b.files):
            return False, "arrays differ"
        worst = 0.0
        for name in a.files:
            if a[name].shape != b[name].shape:
                return False, f"{name}: shape differs"
            if not np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"):
                worst = max(worst, float(np.nanmax(np.abs(a[name].astype(float) - b[name].astype(float)))))
    return (worst == 0.0), ("same arrays" if worst == 0.0 else f"max |difference| {worst:.3g}")


def compare_image(path_a: Path, path_b: Path) -> str:
    """Size of a figure difference: changed pixels and their largest change (PNG), else bytes."""
    if path_a.suffix.lower() == ".png":
        try:
            import matplotlib.image as mpimg
            import numpy as np

            a, b = mpimg.imread(path_a), mpimg.imread(path_b)
            if a.shape != b.shape:
                return f"image size differs: {a.shape} vs {b.shape}"
            changed = np.any(a != b, axis=-1) if a.ndim == 3 else a != b
            if not changed.any():
                return "same pixels; only PNG metadata differs"
            return f"{changed.mean():.2%} of pixels differ, max |difference| {float(np.abs(a - b).max()):.3g}"
        except (OSError, ValueError, SyntaxError):
            pass
    return _byte_difference(path_a, path_b)


def _byte_difference(path_a: Path, path_b: Path) -> str:
    """Size of a difference: changed lines of text files, changed bytes of binary ones."""
    a, b = path_a.read_bytes(), path_b.read_bytes()
    try:
        lines_a, lines_b = a.decode().splitlines(), b.decode().splitlines()
    except UnicodeDecodeError:
        differing = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
        return f"{differing} of {max(len(a), len(b))} bytes differ"
    matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")
    return f"{changed} of {max(len(lines_a), len(lines_b))} lines differ"


CONTENT_COMPARERS = {
    ".json": compare_json,
    ".csv": compare_csv,
    ".tsv": compare_csv,
    ".parquet": compare_parquet,
    ".nc": compare_netcdf,
    ".npz": compare_npz,
    ".h5": compare_hdf5,
    ".hdf5": compare_hdf5,
}


def nondeterministic_outputs(manifest: dict) -> dict[str, str]:
    """Files written by jobs that declare themselves non-deterministic (GPU, non-deterministic ops)."""
    reasons = {}
    for job in manifest.get("jobs", []):
        extra = job.get("extra") or {}
        device = extra.get("device") if isinstance(extra.get("device"), dict) else {}
        reason = None
        if str(device.get("device", "")).lower() == "gpu" or "GPU" in str(device.get("device_name", "")):
            reason = "trained on a GPU"
        elif device.get("deterministic") is False or extra.get("deterministic") is False:
            reason = "non-deterministic ops"
        if reason:
            for out in job.get("outputs", []):
                reasons[out] = reason
    return reasons


def _owner_reason(rel: str, reasons: dict[str, str]) -> str | None:
    for out, reason in reasons.items():
        if rel == out or rel.startswith(out.rstrip("/") + "/"):
            return reason
    return None


def compare_file(rel: str, path_a: Path, path_b: Path, nondeterministic: str | None, environment: list[str]) -> FileComparison:
    size_a, size_b = path_a.stat().st_size, path_b.stat().st_size
    result = FileComparison(rel, IDENTICAL, "", size_a, size_b)
    if sha256_file(path_a) == sha256_file(path_b):
        return result
    suffix = path_a.suffix.lower()
    if rel in METADATA_FILES or VOLATILE.search(rel):
        result.status, result.detail = EQUIVALENT, "written per run (clock, host, paths): " + _byte_difference(path_a, path_b)
        return result
    if suffix in FIGURES:
        result.status, result.detail = EXPECTED, "figure: " + compare_image(path_a, path_b)
        return result
    comparer = CONTENT_COMPARERS.get(suffix)
    same, detail = False, _byte_difference(path_a, path_b)
    if comparer:
        try:
            same, detail = comparer(path_a, path_b)
        except Exception as exc:  # unreadable content is itself a difference worth reporting
            detail = f"could not compare contents ({type(exc).__name__}: {exc}); {_byte_difference(path_a, path_b)}"
    if same:
        result.status, result.detail = EQUIVALENT, detail
    elif nondeterministic:
        result.status, result.detail = EXPECTED, f"{nondeterministic}: {detail}"
    elif environment:
        result.status, result.detail = EXPECTED, f"software differs ({'; '.join(environment)}): {detail}"
    else:
        result.status, result.detail = UNEXPECTED, detail
    return result


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def compare_versions(dir_a: Path, dir_b: Path, manifest_a: dict, environment: list[str]) -> list[FileComparison]:
    reasons = nondeterministic_outputs(manifest_a)
    files_a, files_b = _files(dir_a), _files(dir_b)
    out = []
    for rel in sorted(files_a | files_b):
        if rel in METADATA_FILES and not (rel in files_a and rel in files_b):
            out.append(FileComparison(rel, EQUIVALENT, "run-level metadata written after the run, present in one folder only"))
        elif rel not in files_b:
            out.append(FileComparison(rel, UNEXPECTED, "missing from the re-run", (dir_a / rel).stat().st_size, None))
        elif rel not in files_a:
            out.append(FileComparison(rel, UNEXPECTED, "only in the re-run", None, (dir_b / rel).stat().st_size))
        else:
            out.append(compare_file(rel, dir_a / rel, dir_b / rel, _owner_reason(rel, reasons), environment))
    return out


# -- the command --------------------------------------------------------------------------------
def reproduce(
    version_dir: str | Path,
    *,
    workdir: str | Path | None = None,
    scratch_parent: str | Path | None = None,
    cores: int = 2,
    keep: bool = False,
    timeout: int | None = None,
) -> ReproduceResult:
    """Re-run ``version_dir`` in a scratch folder and compare; see the module docstring."""
    version_dir, manifest = load_version(version_dir)
    source = Path(workdir or manifest.get("workdir") or ".")
    scratch = Path(tempfile.mkdtemp(prefix="bayespipe-reproduce-", dir=scratch_parent))
    try:
        code_dir, code_source = locate_code(version_dir, manifest, source, scratch)
        checkout = scratch / "work" / "repo"
        _copy_code(code_dir, manifest["code"], checkout)
        config = dict(manifest["config"])
        if Path(config.get("results_dir", "results")).is_absolute():
            config["results_dir"] = "results"  # never write into the original results folder
        (checkout / "config").mkdir(exist_ok=True)
        (checkout / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True))
        problems = [str(p) for p in audit(version_dir, workdir=source)]
        problems += link_raw_inputs(manifest, source, checkout)
        run = run_workflow(checkout, cores, timeout)
        result = ReproduceResult(manifest["version"], None, code_source, str(scratch) if keep else None,
                                 run.returncode == 0, problems, log_tail=run.stdout[-4000:])
        latest = checkout / config.get("results_dir", "results") / "latest"
        if run.returncode != 0 or not latest.exists():
            result.run_ok = False
            return result
        new_dir, new_manifest = load_version(latest)
        result.reproduced_version = new_manifest["version"]
        result.environment = [
            f"{c.key}: {c.a} -> {c.b}"
            for c in compare_maps(manifest.get("software", {}), new_manifest.get("software", {}))
            + compare_maps(manifest.get("stan_engine", {}), new_manifest.get("stan_engine", {}))
        ]
        result.files = compare_versions(version_dir, new_dir, manifest, result.environment)
        return result
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def format_result(result: ReproduceResult) -> str:
    counts = result.counts()
    lines = [
        f"reproduce {result.version}: code from {result.code_source}",
        f"re-run {'completed' if result.run_ok else 'FAILED'}; version id "
        + (f"{result.reproduced_version} ({'same' if result.reproduced_version == result.version else 'DIFFERS'})" if result.reproduced_version else "-"),
    ]
    if result.scratch:
        lines.append(f"scratch folder kept: {result.scratch}")
    if result.environment:
        lines.append("software differs from the recorded run: " + "; ".join(result.environment))
    if result.audit_problems:
        lines.append(f"\naudit of the original ({len(result.audit_problems)} problems):")
        lines += [f"  {p}" for p in result.audit_problems]
    lines.append(
        f"\n{len(result.files)} files: {counts[IDENTICAL]} bit-identical, {counts[EQUIVALENT]} equivalent "
        f"(per-run fields only), {counts[EXPECTED]} expected differences, {counts[UNEXPECTED]} unexpected"
    )
    for status in (UNEXPECTED, EXPECTED, EQUIVALENT):
        items = [f for f in result.files if f.status == status]
        if items:
            lines.append(f"\n{status}:")
            lines += [f"  {f.path}: {f.detail}" for f in items]
    if not result.run_ok:
        lines.append("\nre-run log (tail):\n" + result.log_tail)
    lines.append("\nOK: reproduced" if result.ok else "\nNOT REPRODUCED")
    return "\n".join(lines)


def add_command(commands) -> None:
    """``bayespipe reproduce VERSION``: exit 0 when reproduced, 1 on unexpected differences."""
    parser = commands.add_parser("reproduce", help="re-run a version's recorded config and code in a scratch folder and compare every file")
    parser.add_argument("version_dir", type=Path, help="e.g. results/<version>")
    parser.add_argument("--workdir", type=Path, default=None, help="where raw inputs are found (default: the run's workflow folder)")
    parser.add_argument("--scratch", type=Path, default=None, help="parent of the scratch folder (default: the system temp folder)")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores of the re-run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the comparison as JSON to this file")
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    from bayespipe.errors import InputError
    from bayespipe.io import write_json

    try:
        result = reproduce(args.version_dir, workdir=args.workdir, scratch_parent=args.scratch, cores=args.cores, keep=args.keep)
    except (ReproduceError, InputError, OSError) as exc:
        print(f"bayespipe reproduce: {exc}", file=sys.stderr)
        return 2
    print(format_result(result))
    if args.json:
        write_json(args.json, json.loads(result.to_json()))
    return 0 if result.ok else 1
