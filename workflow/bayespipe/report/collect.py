"""What the report shows, discovered from the files present in a version folder.

Analyses are built by different rule files and grow over time, so nothing here knows their
outputs by name: each analysis folder is scanned for the kinds of files people read (data cards,
diagnostics and metrics JSON, comparison tables, figures) and every one found gets shown. Which
of them lead a section is declared in ``references.yaml`` (see ``headline``).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.catalog import ANALYSES, REPORT_DIR, report_order
from bayespipe.filekinds import json_kind

FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")
SKIPPED_PARTS = {"logs", "benchmarks"}
MAX_TABLE_ROWS = 60
MAX_TABLE_BYTES = 2_000_000
TABLE_NAME = re.compile(
    r"(comparison|summary|metrics|diagnostics|gates|recovery|accuracy|card|_vs_|calibration)", re.I
)
PASS_KEYS = ("passed", "pass", "ok", "gates_passed", "all_passed")
NOT_CHECKS = ("approximate",)  # booleans of a diagnostics file that describe it, not a check
APPROXIMATE_METHODS = ("pathfinder", "advi", "laplace", "variational")


@dataclass
class JsonDoc:
    path: str  # relative to the version folder
    kind: str  # data_card | diagnostics | metrics | other
    data: Any


@dataclass
class Table:
    path: str
    header: list[str]
    rows: list[list[str]]
    truncated: int = 0  # rows not shown


@dataclass
class Gate:
    """One pass/fail verdict found in a diagnostics file (e.g. a Stan fit's convergence gates)."""

    source: str  # file, relative to the version folder
    name: str  # where in the file (e.g. 'fit.tadpoles')
    passed: bool
    failed_checks: list[str] = field(default_factory=list)
    approximate: str | None = None  # the method of an approximate fit (its own gates: Pareto k)


@dataclass
class ApproximateFit:
    """A Stan fit by an approximate method (Pathfinder, ADVI): MCMC gates do not apply to it."""

    source: str
    method: str
    note: str = ""


@dataclass
class AnalysisSection:
    name: str
    title: str
    folder: str
    json_docs: list[JsonDoc] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, size) of every result
    gates: list[Gate] = field(default_factory=list)
    approximate: list[ApproximateFit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (diagnostics file, warning) of each figure a fit could not draw (a placeholder stands in)
    figure_warnings: list[tuple[str, str]] = field(default_factory=list)


def _result_files(folder: Path) -> list[Path]:
    """Files of an analysis folder, without logs, benchmarks and job records."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not (set(p.relative_to(folder).parts) & SKIPPED_PARTS)
        and not p.name.startswith(".")
    )


def read_table(path: Path, rel: str, max_rows: int = MAX_TABLE_ROWS) -> Table:
    with Path(path).open(newline="") as handle:
        rows = list(csv.reader(line for line in handle if not line.startswith("#")))
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return Table(rel, header, body[:max_rows], max(0, len(body) - max_rows))


def _pass_flag(data: dict) -> str | None:
    return next((k for k in PASS_KEYS if isinstance(data.get(k), bool)), None)


def find_gates(data: Any, source: str, where: str = "") -> list[Gate]:
    """Every dict with a boolean pass flag; its failed sub-checks are the false flags inside it."""
    gates = []
    if isinstance(data, dict):
        flag = _pass_flag(data)
        if flag is not None:
            label = where or str(data.get("model") or data.get("name") or Path(source).parent.name)
            gates.append(Gate(source, label, data[flag], _failed_checks(data, flag)))
            return gates
        for key, value in data.items():
            gates += find_gates(value, source, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            label = _entry_label(value)
            gates += find_gates(value, source, f"{where}[{label or index}]")
    return gates


def _entry_label(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("name") or value.get("model") or value.get("fit")
    return None


def _failed_checks(data: dict, flag: str, prefix: str = "") -> list[str]:
    """Names of the failed checks in a gate: false flags, or sub-dicts whose pass flag is false."""
    failed = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key == flag or key in NOT_CHECKS:
            continue
        if value is False:
            failed.append(name)
        elif isinstance(value, dict):
            inner = _pass_flag(value)
            if inner is not None:
                if not value[inner]:
                    failed.append(name)
            else:
                failed += _failed_checks(value, flag, f"{name}.")
    return failed


def approximate_method(data: Any) -> str | None:
    """The method of a diagnostics file that describes an approximate fit, else None."""
    if not isinstance(data, dict):
        return None
    method = str(data.get("method") or "").lower()
    if data.get("approximate") is True:
        return method or "approximate"
    return method if method in APPROXIMATE_METHODS else None


def collect_analysis(version_dir: Path, name: str, only: set[str] | None = None) -> AnalysisSection:
    """The section of one analysis folder.

    ``only`` restricts it to these version-relative files (a work tree may hold files of other runs
    beside this run's).
    """
    folder = version_dir / name
    analysis = ANALYSES.get(name)
    section = AnalysisSection(name, analysis.title if analysis else name.capitalize(), name)
    for path in _result_files(folder):
        rel = str(path.relative_to(version_dir))
        if only is not None and rel not in only:
            continue
        size = path.stat().st_size
        section.files.append((rel, size))
        suffix = path.suffix.lower()
        if suffix in FIGURE_SUFFIXES:
            section.figures.append(rel)
        elif suffix == ".json" and size <= MAX_TABLE_BYTES:
            _add_json(section, path, rel)
        elif (
            suffix in (".csv", ".tsv") and TABLE_NAME.search(path.name) and size <= MAX_TABLE_BYTES
        ):
            try:
                section.tables.append(read_table(path, rel))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                section.problems.append(f"{rel}: not a readable table ({exc})")
    return section


def _add_json(section: AnalysisSection, path: Path, rel: str) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        section.problems.append(f"{rel}: not valid JSON ({exc})")
        return
    kind = json_kind(path.name)
    section.json_docs.append(JsonDoc(rel, kind, data))
    if kind != "diagnostics":
        return
    if isinstance(data, dict) and isinstance(data.get("figure_warnings"), list):
        section.figure_warnings += [(rel, str(w)) for w in data["figure_warnings"]]
    method = approximate_method(data)
    gates = find_gates(data, rel)
    if method:
        section.approximate.append(ApproximateFit(rel, method, str(data.get("note") or "")))
        for gate in gates:
            gate.approximate = method
    section.gates += gates


def present_analyses(version_dir: Path, only: set[str] | None = None) -> list[str]:
    """Analysis folders in the version folder, known ones in report order first.

    Analysis folders in the version folder (with a file in ``only``, when given), known ones in
    report order, then any others.
    """
    names = [
        p.name
        for p in version_dir.iterdir()
        if p.is_dir() and p.name != REPORT_DIR and not p.name.startswith(".")
    ]
    if only is not None:
        names = [n for n in names if any(f.startswith(f"{n}/") for f in only)]
    known = [n for n in report_order() if n in names]
    return known + sorted(n for n in names if n not in known)


def load_job_records(version_dir: Path) -> list[dict]:
    records = []
    for path in sorted(version_dir.rglob("logs/*.job.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        record["_record"] = str(path.relative_to(version_dir))
        records.append(record)
    return records


def log_warnings(version_dir: Path, max_per_log: int = 5) -> list[tuple[str, list[str]]]:
    """(log file, first WARNING/ERROR lines) of every job log that has any."""
    found = []
    for path in sorted(version_dir.rglob("logs/*.log")):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [line for line in lines if " WARNING " in line or " ERROR " in line]
        if hits:
            more = [f"... {len(hits) - max_per_log} more"] if len(hits) > max_per_log else []
            found.append((str(path.relative_to(version_dir)), hits[:max_per_log] + more))
    return found


def devices(records: list[dict]) -> list[str]:
    """The devices jobs report in their record (``record['device']``), each with its rules."""
    rules_by_device: dict[str, list[str]] = {}
    for record in records:
        info = (record.get("extra") or {}).get("device")
        if isinstance(info, dict):
            label = (
                info.get("device_name") or info.get("device") or json.dumps(info, sort_keys=True)
            )
            if info.get("gpus"):
                label += f" ({', '.join(map(str, info['gpus']))})"
        elif info:
            label = str(info)
        else:
            continue
        rules_by_device.setdefault(label, []).append(str(record.get("rule")))
    return [
        f"{label} [{', '.join(dict.fromkeys(rules))}]" for label, rules in rules_by_device.items()
    ]
