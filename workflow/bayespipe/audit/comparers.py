"""File by file comparison of a version folder and its re-run.

Each file is bit-identical; equivalent (same content once the fields its writer declares per-run
are set aside, see ``bayespipe.audit.volatile``; or only file metadata differs: JSON, CSV,
Parquet, netCDF, HDF5 and npz compare by content); an expected difference (figures, outputs of
GPU or non-deterministic jobs, another software stack), reported with the size of the
difference; or an unexpected difference.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bayespipe.audit.compare import changed_leaves, difference_text, max_numeric_difference
from bayespipe.audit.volatile import (
    FileKind,
    declared,
    kind_of,
    without_columns,
    without_fields,
)
from bayespipe.io import read_json, sha256_file
from bayespipe.provenance import METADATA_FILES

IDENTICAL, EQUIVALENT, EXPECTED, UNEXPECTED = "identical", "equivalent", "expected", "unexpected"
FIGURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".gif")


@dataclass
class FileComparison:
    path: str
    status: str  # identical | equivalent | expected | unexpected
    detail: str = ""
    size_a: int | None = None
    size_b: int | None = None


# -- by format: (same?, what differs) ----------------------------------------------------------
def compare_json(path_a: Path, path_b: Path, fields: tuple[str, ...] = ()) -> tuple[bool, str]:
    raw_a, raw_b = read_json(path_a), read_json(path_b)
    a, b = without_fields(raw_a, fields), without_fields(raw_b, fields)
    if a != b:
        keys = changed_leaves(a, b)
        shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        delta = max_numeric_difference(a, b)
        size = f"; max |difference| {delta:.3g}" if delta else ""
        return False, f"differs at {len(keys)} key(s): {shown}{size}"
    changed = changed_leaves(raw_a, raw_b)
    differing = [f for f in fields if any(declared(key, (f,)) for key in changed)]
    return True, f"same values; only per-run fields differ ({', '.join(differing) or 'format'})"


def _csv_rows(path: Path) -> list[list[str]]:
    # '#' lines are not data: CmdStan writes its settings, timings and paths there.
    with Path(path).open(newline="") as handle:
        return list(csv.reader(line for line in handle if not line.startswith("#")))


def compare_csv(path_a: Path, path_b: Path, columns: tuple[str, ...] = ()) -> tuple[bool, str]:
    a, b = _csv_rows(path_a), _csv_rows(path_b)
    if a == b:
        return True, "same rows; only comment lines differ"
    if columns and a and b and a[0] == b[0]:
        a, b = without_columns(a, columns), without_columns(b, columns)
        if a == b:
            return True, f"same values; only per-run columns differ ({', '.join(columns)})"
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b, strict=True)):
        return False, f"shape differs: {len(a)} vs {len(b)} rows"
    cells_a, cells_b = _cells(a), _cells(b)
    text = [
        (x, y)
        for ra, rb in zip(cells_a, cells_b, strict=True)
        for x, y in zip(ra, rb, strict=True)
        if x != y and (isinstance(x, str) or isinstance(y, str))
    ]
    if text:
        return False, f"{len(text)} text cells differ (e.g. {text[0][0]!r} vs {text[0][1]!r})"
    return False, difference_text(cells_a, cells_b)


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
    """ArviZ/xarray netCDF by content: values and coordinates of every group (not attributes)."""
    import numpy as np
    import xarray as xr

    worst, problems = 0.0, []
    for group in _netcdf_groups(path_a):
        with (
            xr.open_dataset(path_a, group=group, engine="h5netcdf") as a,
            xr.open_dataset(path_b, group=group, engine="h5netcdf") as b,
        ):
            if a.equals(b):
                continue
            if set(a.data_vars) != set(b.data_vars):
                return False, f"group {group}: variables differ"
            problems += [
                f"group {group}: coordinate {c} differs"
                for c in a.coords
                if c not in b.coords or not a[c].equals(b[c])
            ]
            for name in a.data_vars:
                left, right = np.asarray(a[name].values), np.asarray(b[name].values)
                if left.shape != right.shape:
                    return False, f"group {group}: {name} shape {left.shape} vs {right.shape}"
                if left.dtype.kind in "fiub" and right.dtype.kind in "fiub":
                    delta = np.abs(left.astype(float) - right.astype(float))
                    worst = max(worst, float(np.nanmax(delta, initial=0.0)))
                elif not np.array_equal(left, right):
                    problems.append(f"group {group}: {name} differs")
    if worst == 0.0 and not problems:
        return True, "same values; only attributes (e.g. created_at) differ"
    size = [f"max |difference| {worst:.3g}"] if worst else ["same values"]
    return False, "; ".join(problems + size)


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

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = obj[()]

        handle.visititems(visit)
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
                delta = np.abs(np.asarray(value, float) - np.asarray(other, float))
                worst = max(worst, float(np.max(delta)))
            except (TypeError, ValueError):
                return False, f"{name} differs"
    if worst == 0.0:
        return True, "same datasets; only HDF5 metadata differs"
    return False, f"max |difference| {worst:.3g}"


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
                delta = np.abs(a[name].astype(float) - b[name].astype(float))
                worst = max(worst, float(np.nanmax(delta)))
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
            largest = float(np.abs(a - b).max())
            return f"{changed.mean():.2%} of pixels differ, max |difference| {largest:.3g}"
        except (OSError, ValueError, SyntaxError):
            pass
    return byte_difference(path_a, path_b)


def byte_difference(path_a: Path, path_b: Path) -> str:
    """Size of a difference: changed lines of text files, changed bytes of binary ones."""
    a, b = path_a.read_bytes(), path_b.read_bytes()
    try:
        lines_a, lines_b = a.decode().splitlines(), b.decode().splitlines()
    except UnicodeDecodeError:
        differing = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        return f"{differing} of {max(len(a), len(b))} bytes differ"
    matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    changed = sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
    return f"{changed} of {max(len(lines_a), len(lines_b))} lines differ"


def content_comparer(suffix: str, kind: FileKind | None) -> Callable | None:
    """The comparer for a file's format, given the per-run fields its kind declares."""
    declared = kind.fields if kind else ()
    if suffix == ".json":
        return lambda a, b: compare_json(a, b, declared)
    if suffix in (".csv", ".tsv"):
        return lambda a, b: compare_csv(a, b, declared)
    return {
        ".parquet": compare_parquet,
        ".nc": compare_netcdf,
        ".npz": compare_npz,
        ".h5": compare_hdf5,
        ".hdf5": compare_hdf5,
    }.get(suffix)


# -- classifying ---------------------------------------------------------------------------------
def nondeterministic_outputs(manifest: dict) -> dict[str, str]:
    """Files of jobs that declare themselves non-deterministic (GPU, non-deterministic ops)."""
    reasons = {}
    for job in manifest.get("jobs", []):
        extra = job.get("extra") or {}
        device = extra.get("device") if isinstance(extra.get("device"), dict) else {}
        reason = None
        if str(device.get("device", "")).lower() == "gpu" or "GPU" in str(
            device.get("device_name", "")
        ):
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


def compare_file(
    rel: str, path_a: Path, path_b: Path, nondeterministic: str | None, environment: list[str]
) -> FileComparison:
    result = FileComparison(rel, IDENTICAL, "", path_a.stat().st_size, path_b.stat().st_size)
    if sha256_file(path_a) == sha256_file(path_b):
        return result
    suffix, kind = path_a.suffix.lower(), kind_of(rel)
    if kind and kind.per_run:
        result.status = EQUIVALENT
        result.detail = f"{kind.name}, written per run: {byte_difference(path_a, path_b)}"
        return result
    if suffix in FIGURES:
        result.status, result.detail = EXPECTED, "figure: " + compare_image(path_a, path_b)
        return result
    comparer = content_comparer(suffix, kind)
    same, detail = False, byte_difference(path_a, path_b)
    if comparer:
        try:
            same, detail = comparer(path_a, path_b)
        except Exception as exc:  # unreadable content is itself a difference worth reporting
            detail = f"could not compare contents ({type(exc).__name__}: {exc}); {detail}"
    if same:
        result.status, result.detail = EQUIVALENT, detail
    elif nondeterministic:
        result.status, result.detail = EXPECTED, f"{nondeterministic}: {detail}"
    elif environment:
        result.status = EXPECTED
        result.detail = f"software differs ({'; '.join(environment)}): {detail}"
    else:
        result.status, result.detail = UNEXPECTED, detail
    return result


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def compare_versions(
    dir_a: Path, dir_b: Path, manifest_a: dict, environment: list[str]
) -> list[FileComparison]:
    reasons = nondeterministic_outputs(manifest_a)
    files_a, files_b = _files(dir_a), _files(dir_b)
    out = []
    for rel in sorted(files_a | files_b):
        if rel in METADATA_FILES and not (rel in files_a and rel in files_b):
            out.append(
                FileComparison(
                    rel, EQUIVALENT, "run-level metadata written after the run, in one folder only"
                )
            )
        elif rel not in files_b:
            out.append(
                FileComparison(
                    rel, UNEXPECTED, "missing from the re-run", (dir_a / rel).stat().st_size, None
                )
            )
        elif rel not in files_a:
            out.append(
                FileComparison(
                    rel, UNEXPECTED, "only in the re-run", None, (dir_b / rel).stat().st_size
                )
            )
        else:
            out.append(
                compare_file(
                    rel, dir_a / rel, dir_b / rel, _owner_reason(rel, reasons), environment
                )
            )
    return out
