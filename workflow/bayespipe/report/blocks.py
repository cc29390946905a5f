"""The models analysis read at fifty blocks: a table row per block, comparisons, folded sections.

A run with many blocks should be read from a table, not from one long section: each row gives a
block's convergence gates (and which checks failed), its worst R-hat and smallest bulk ESS, its
PSIS-LOO elpd and its sampling time, and links to the block's section, which opens on demand.
Every value comes from the block's own files (``diagnostics.json``, ``loo.json``,
``metrics.json``); a file this run did not make (``ours``) is treated as absent.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.report import collect, sections
from bayespipe.report.headline import Headline

MODELS = "models"
COMPARISONS = "comparisons"  # models/comparisons/<name>/: compare.json, compare.csv, compare.png


def anchor(block: str) -> str:
    """The id of a block's section (block names are ``[A-Za-z][A-Za-z0-9_]*``)."""
    return f"model-{block}"


@dataclass
class ModelRow:
    """One ``models:`` block in the models table."""

    name: str
    fitted: bool = False  # this run has its diagnostics.json
    passed: bool | None = None
    failed_checks: list[str] = field(default_factory=list)
    method: str | None = None  # an approximate fit's method (pathfinder, advi)
    max_rhat: float | None = None
    rhat_variable: str | None = None
    min_ess_bulk: float | None = None
    ess_variable: str | None = None
    elpd_loo: float | None = None
    elpd_se: float | None = None
    loo_reliable: bool | None = None  # every Pareto k at most 0.7
    pareto_k_max: float | None = None
    sampling_seconds: float | None = None


@dataclass
class Comparison:
    """One ``comparisons:`` entry: its table, headline, unreliable blocks and figure."""

    name: str
    blocks: list[str]
    folder: str
    anchor: str
    summary: dict | None = None  # compare.json
    table: collect.Table | None = None  # compare.csv
    figure: sections.Figure | None = None  # compare.png
    links: list[tuple[str, str]] = field(default_factory=list)  # (rel, href) of each file
    problems: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return bool(self.summary or self.table)


def block_names(config: dict, analyses: list[str]) -> list[str]:
    """The ``models:`` blocks of a run that asked for the models analysis, in config order."""
    if MODELS not in analyses:
        return []
    return list(config.get("models") or {})


def _read_json(path: Path) -> dict:
    """A JSON object, or {} where the file is not one (``collect`` warns of invalid JSON)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _extreme(diagnostics: dict, metrics: dict, key: str) -> tuple[float | None, str | None]:
    """A gate's value and variable from diagnostics.json ({value, variable}), else metrics.json."""
    entry = diagnostics.get(key)
    if isinstance(entry, dict) and _number(entry.get("value")) is not None:
        return _number(entry["value"]), entry.get("variable")
    return _number(metrics.get(key)), None


def model_row(version_dir: Path, name: str, ours: Callable[[str], bool]) -> ModelRow:
    """The table row of one block, from the files of its folder that this run made."""
    row = ModelRow(name)
    docs = {}
    for stem in ("diagnostics", "metrics", "loo"):
        rel = f"{MODELS}/{name}/{stem}.json"
        present = ours(rel) and (version_dir / rel).is_file()
        docs[stem] = _read_json(version_dir / rel) if present else {}
    diagnostics, metrics, loo = docs["diagnostics"], docs["metrics"], docs["loo"]
    if diagnostics:
        row.fitted = True
        gates = collect.find_gates(diagnostics, f"{MODELS}/{name}/diagnostics.json")
        if gates:
            row.passed = all(g.passed for g in gates)
            named = diagnostics.get("failed")
            row.failed_checks = (
                [str(n) for n in named]
                if isinstance(named, list)
                else [c for g in gates for c in g.failed_checks]
            )
        row.method = collect.approximate_method(diagnostics)
    row.max_rhat, row.rhat_variable = _extreme(diagnostics, metrics, "max_rhat")
    row.min_ess_bulk, row.ess_variable = _extreme(diagnostics, metrics, "min_ess_bulk")
    engine = diagnostics.get("engine") if isinstance(diagnostics.get("engine"), dict) else {}
    row.sampling_seconds = _number(metrics.get("sampling_seconds"))
    if row.sampling_seconds is None:
        row.sampling_seconds = _number(engine.get("sampling_seconds"))
    if loo:
        row.elpd_loo, row.elpd_se = _number(loo.get("elpd_loo")), _number(loo.get("se"))
        k = loo.get("pareto_k")
        row.pareto_k_max = _number(k.get("max")) if isinstance(k, dict) else None
        if isinstance(loo.get("passed"), bool):
            row.loo_reliable = loo["passed"]
    return row


def model_rows(version_dir: Path, names: list[str], ours: Callable[[str], bool]) -> list[ModelRow]:
    return [model_row(version_dir, name, ours) for name in names]


def comparison_entries(config: dict, analyses: list[str]) -> dict[str, list[str]]:
    """``comparisons:`` of a run that asked for the models analysis: name -> blocks."""
    if MODELS not in analyses:
        return {}
    entries = config.get(COMPARISONS) or {}
    return {str(name): [str(b) for b in blocks] for name, blocks in entries.items()}


def comparisons(
    version_dir: Path,
    report_dir: Path,
    entries: dict[str, list[str]],
    ours: Callable[[str], bool],
) -> list[Comparison]:
    """Each comparison's files, where this run made them (absent: the comparison did not run)."""
    found = []
    for name, blocks in entries.items():
        folder = f"{MODELS}/{COMPARISONS}/{name}"
        item = Comparison(name, blocks, folder, f"comparison-{name}")

        def present(file: str, folder=folder) -> Path | None:
            rel = f"{folder}/{file}"
            path = version_dir / rel
            return path if ours(rel) and path.is_file() else None

        if path := present("compare.json"):
            item.summary = _read_json(path) or None
        if path := present("compare.csv"):
            try:
                item.table = collect.read_table(path, f"{folder}/compare.csv")
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                item.problems.append(f"{folder}/compare.csv: not a readable table ({exc})")
        if present("compare.png"):
            item.figure = sections.figure(version_dir, report_dir, f"{folder}/compare.png")
        item.links = [
            (f"{folder}/{file}", sections.href(report_dir, f"{folder}/{file}"))
            for file in ("compare.csv", "compare.json", "compare.png")
            if present(file)
        ]
        found.append(item)
    return found


def _path_of(entry: Any) -> str:
    """The version-relative file an entry of an ``AnalysisSection`` list is about."""
    if isinstance(entry, str):
        return entry  # a figure, or a problem ("<file>: ...")
    if isinstance(entry, tuple):
        return str(entry[0])  # (file, size), (source, warning)
    return str(getattr(entry, "path", None) or getattr(entry, "source", ""))


def subsection(
    section: collect.AnalysisSection, keep: Callable[[str], bool], **changes
) -> collect.AnalysisSection:
    """The part of ``section`` about the files ``keep`` accepts (every list field filtered)."""
    filtered = {
        f.name: [e for e in getattr(section, f.name) if keep(_path_of(e))]
        for f in dataclasses.fields(section)
        if isinstance(getattr(section, f.name), list)
    }
    return dataclasses.replace(section, **filtered, **changes)


def models_view(
    version_dir: Path,
    report_dir: Path,
    section: collect.AnalysisSection,
    headlines: list[Headline],
    names: list[str],
    comparisons_shown: list[Comparison],
) -> sections.SectionView:
    """The models analysis: a folded view per block, then what belongs to no block.

    The comparisons' files are shown in their own section, so left out here (but listed).
    """
    prefixes = tuple(f"{MODELS}/{name}/" for name in names)
    shown = tuple(f"{c.folder}/" for c in comparisons_shown)
    rest = subsection(section, lambda rel: not rel.startswith(prefixes + shown))
    rest.files = [f for f in section.files if not f[0].startswith(prefixes)]
    view = sections.build(version_dir, report_dir, rest, headlines)
    view.key_numbers = [h for h in view.key_numbers if not (h.file or "").startswith(prefixes)]
    # The header counts every file and gate of the analysis; the rest is each block's own.
    view.section = dataclasses.replace(
        rest, files=section.files, gates=section.gates, approximate=section.approximate
    )
    for name, prefix in zip(names, prefixes, strict=True):
        part = subsection(
            section, lambda rel, p=prefix: rel.startswith(p), title=name, folder=prefix[:-1]
        )
        block = sections.build(version_dir, report_dir, part, headlines, anchor=anchor(name))
        block.block = name
        view.blocks.append(block)
    return view


def headline_anchor(row: Headline, names: list[str]) -> str | None:
    """The block section a model block's headline row belongs to, else None."""
    parts = (row.file or "").split("/")
    if row.analysis == MODELS and len(parts) > 2 and parts[1] in names:
        return anchor(parts[1])
    return None
