"""The report as one static HTML file: inline CSS, no external URLs, figures read from the folder.

The page is rendered from Jinja2 templates (``templates/``, autoescaping on: every value passes
through one escaping path). It answers first whether the run worked and whether it matches the
tutorials (``headline``: the analyses this run asked for), then, when the run fitted ``models:``
blocks, one row per block and the comparisons (``blocks``), then what changed since the previous
version (``changes``), then one section per analysis (``sections``; a folded one per block),
provenance and warnings. Links to result files, and the figures, are relative to
``report/index.html`` (``../<analysis>/...``): every one is a file of this run, so the page works
from any copy of the version folder, with or without a web server. Its one script (inline) opens
the folded section a link points into.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2

from bayespipe.io import atomic_path
from bayespipe.provenance import MANIFEST, ROCRATE
from bayespipe.report import blocks, collect, headline, present, sections
from bayespipe.report.changes import Changes, changes_since_previous

TEMPLATES = Path(__file__).with_name("templates")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class RunInfo:
    """What the report rule knows about the run besides the files (passed as rule params)."""

    version: str
    config: dict
    software: dict
    stan_engine: dict
    analyses: list[str]
    reused: dict = field(default_factory=dict)
    git: dict | None = None
    host: dict = field(default_factory=dict)
    generated: str = field(default_factory=_now)
    code: dict = field(default_factory=dict)  # file -> sha256, as the manifest will record
    data: dict = field(default_factory=dict)  # raw input fingerprints, as the manifest will record


def page_files() -> list[Path]:
    """The data files the page is made from besides code (templates, references, layout).

    The report rule takes them as inputs, so editing one reruns it and its record hashes them.
    """
    return sorted([headline.REFERENCES, sections.LAYOUT, *TEMPLATES.iterdir()])


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Templates loaded by path (they ship beside this module); autoescaping for every one."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(present.filters())
    env.tests.update(present.tests())
    env.globals.update(is_gate=present.is_gate, json_text=_json_text)
    return env


def _json_text(value, limit: int = 4000) -> str:
    text = json.dumps(value, indent=1, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "\n..."


def collect_warnings(info: RunInfo, analyses: list[collect.AnalysisSection]) -> list[str]:
    """Plain-text warnings (the template escapes them)."""
    warnings = []
    present_names = {s.name for s in analyses}
    warnings += [
        f"analysis {name} is enabled but has no results folder"
        for name in info.analyses
        if name not in present_names
    ]
    for section in analyses:
        for gate in section.gates:
            if not gate.passed:
                checks = f" ({', '.join(gate.failed_checks)})" if gate.failed_checks else ""
                warnings.append(
                    f"{section.title}: {gate.name} failed its convergence gates{checks}"
                )
        warnings += section.problems
    if (info.git or {}).get("dirty"):
        warnings.append(
            "the checkout had uncommitted changes; report/code-snapshot/ holds the code that ran"
        )
    return warnings


def _run_rows(info: RunInfo, device_list: list[str]) -> list[tuple[str, str]]:
    git = info.git or {}
    commit = git.get("commit") or "not a git checkout"
    if git.get("dirty"):
        commit += " (uncommitted changes: see the code snapshot)"
    engine = ", ".join(f"{k} {v}" for k, v in info.stan_engine.items() if k != "engine" and v)
    host = info.host
    gpus = ", ".join(host.get("gpus") or []) or "none"
    rows = [
        ("Version", info.version),
        ("Report generated", info.generated),
        ("Code commit", commit),
        ("Stan engine", f"{info.stan_engine.get('engine')} ({engine})"),
        ("Devices", "; ".join(device_list) or "CPU only (no job reported a device)"),
        (
            "Host",
            " · ".join(str(x) for x in (host.get("name"), host.get("cpu_model")) if x)
            + f" · {host.get('cores')} cores · GPUs: {gpus}",
        ),
        ("Analyses", ", ".join(info.analyses)),
    ]
    if info.reused:
        rows.append(("Reused", ", ".join(f"{k} from {v}" for k, v in info.reused.items())))
    return rows


def _changes(
    version_dir: Path,
    info: RunInfo,
    results_dir: str | Path | None,
    files: set[str] | None,
    analyses: list,
    rows: list,
) -> Changes | None:
    if results_dir is None:
        return None
    run = {
        "version": info.version,
        "config": info.config,
        "code": info.code,
        "data": info.data,
        "software": info.software,
        "stan_engine": info.stan_engine,
    }
    listed = sorted(files) if files is not None else [rel for a in analyses for rel, _ in a.files]
    return changes_since_previous(version_dir, results_dir, run, listed, rows)


def context(
    version_dir: Path,
    report_html: Path,
    info: RunInfo,
    *,
    files: set[str] | None = None,
    results_dir: str | Path | None = None,
) -> dict:
    """Everything the templates show, computed from the version folder and the run.

    ``files`` (version-relative) restricts the page to this run's files, since a work tree
    also holds other runs'; ``results_dir`` enables the What changed section.
    """
    report_dir = report_html.parent

    def ours(rel: str) -> bool:
        return files is None or rel in files

    analyses = [
        collect.collect_analysis(version_dir, name, files)
        for name in collect.present_analyses(version_dir, files)
    ]
    # Only the analyses this run asked for: the others' rows would all read "not run".
    declared = headline.headlines(version_dir, info.config)
    rows = [h for h in declared if h.analysis in info.analyses]
    names = blocks.block_names(info.config, info.analyses)
    model_rows = blocks.model_rows(version_dir, names, ours)
    compared = blocks.comparisons(
        version_dir, report_dir, blocks.comparison_entries(info.config, info.analyses), ours
    )
    views = [
        blocks.models_view(version_dir, report_dir, a, rows, names, compared)
        if a.name == blocks.MODELS and names
        else sections.build(version_dir, report_dir, a, rows)
        for a in analyses
    ]
    records = [r for r in collect.load_job_records(version_dir) if ours(r["_record"])]
    changes = _changes(version_dir, info, results_dir, files, analyses, rows)
    gates = [g for a in analyses for g in a.gates]
    section_names = {a.name for a in analyses}
    block_anchors = {b.anchor for v in views for b in v.blocks}

    def row_anchor(row: headline.Headline) -> str | None:
        """Where a headline row links: its block's section, else its analysis's."""
        block = blocks.headline_anchor(row, names)
        if block in block_anchors:
            return block
        return f"analysis-{row.analysis}" if row.analysis in section_names else None

    return {
        "info": info,
        # Results this version has first; those it lacks at the end.
        "headlines": sorted(rows, key=lambda h: h.verdict == headline.NOT_RUN),
        "headline_links": {
            h.id: sections.href(report_dir, h.file)
            for h in rows
            if h.file and h.verdict != headline.NOT_RUN
        },
        "headline_anchors": {h.id: row_anchor(h) for h in rows},
        "not_asked": sorted({h.analysis for h in declared} - set(info.analyses)),
        "model_rows": model_rows,
        "models_failed": [r for r in model_rows if r.passed is False],
        "models_unfitted": [r for r in model_rows if not r.fitted],
        "comparisons": compared,
        "block_anchors": block_anchors,
        "verdicts": {
            v: sum(r.verdict == v for r in rows)
            for v in (headline.REPRODUCED, headline.DIFFERS, headline.NOT_RUN)
        },
        "run_rows": _run_rows(info, collect.devices(records)),
        "gates": gates,
        "failed_gates": [g for g in gates if not g.passed],
        "approximate": [f for a in analyses for f in a.approximate],
        "sections": views,
        "section_names": section_names,
        "changes": changes,
        "compared": results_dir is not None,
        "records": records,
        "warnings": collect_warnings(info, analyses)
        + [f"model block {r.name} has no fit in this run" for r in model_rows if not r.fitted]
        + [p for c in compared for p in c.problems],
        "log_warnings": [
            (log, sections.href(report_dir, log), lines)
            for log, lines in collect.log_warnings(version_dir)
            if ours(log)
        ],
        "links": {
            "manifest": sections.href(report_dir, MANIFEST),
            "crate": (
                sections.href(report_dir, ROCRATE) if info.config.get("report", True) else None
            ),
            "snapshot": sections.href(report_dir, "report/code-snapshot/Snakefile"),
        },
        "config_text": json.dumps(info.config, indent=2, sort_keys=True, default=str),
    }


@dataclass
class Written:
    """What ``write_report`` wrote, for the job record."""

    path: Path
    compared_with: str | None  # the previous version the "What changed" section diffed against
    verdicts: dict


def render(version_dir: str | Path, report_html: str | Path, info: RunInfo, **kwargs) -> str:
    page = context(Path(version_dir), Path(report_html), info, **kwargs)
    return environment().get_template("report.html.j2").render(page)


def write_report(
    version_dir: str | Path, report_html: str | Path, info: RunInfo, **kwargs
) -> Written:
    """Render and write the report atomically; ``kwargs`` as for ``context``."""
    page = context(Path(version_dir), Path(report_html), info, **kwargs)
    text = environment().get_template("report.html.j2").render(page)
    with atomic_path(report_html) as tmp:
        tmp.write_text(text)
    changes = page["changes"]
    return Written(Path(report_html), changes.previous if changes else None, page["verdicts"])
