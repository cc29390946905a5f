"""One analysis section of the report.

Its key numbers, figures and tables first (as declared in ``layout.yaml``), then every other result
it has, folded, in a fixed order. Figures are not copied into the page: each is the PNG (SVG, ...)
file of the version folder, linked by its path relative to ``report/index.html`` and loaded
lazily, so a version with fifty model blocks still opens at once.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bayespipe.filekinds import json_kind
from bayespipe.report import collect
from bayespipe.report.headline import NOT_RUN, Headline

LAYOUT = Path(__file__).with_name("layout.yaml")
DEFAULT_KEY_FIGURES = 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Folded results, in reading order: what the data were, how models compare, whether fits
# converged, what they found, then everything else.
RAW_ORDER = ("data_card", "comparison", "diagnostics", "metrics", "table", "other")
RAW_HEADINGS = {
    "data_card": "Data card",
    "comparison": "Comparison",
    "diagnostics": "Diagnostics",
    "metrics": "Metrics",
    "table": "Table",
    "other": "Other results",
}


@dataclass
class Figure:
    rel: str  # relative to the version folder
    src: str  # the file, relative to the report folder (``../<analysis>/...``)
    href: str
    caption: str
    width: int | None = None  # pixels, where the file says (PNG): the page keeps its place
    height: int | None = None


@dataclass
class Item:
    """A JSON document or a table, with how it is headed and whether it is a gate context."""

    rel: str
    href: str
    kind: str  # one of RAW_ORDER
    heading: str
    json: Any = None
    table: collect.Table | None = None
    rows: int = 0
    approximate: str | None = None


@dataclass
class SectionView:
    section: collect.AnalysisSection
    anchor: str
    key_numbers: list[Headline] = field(default_factory=list)
    key_figures: list[Figure] = field(default_factory=list)
    more_figures: list[Figure] = field(default_factory=list)
    key_items: list[Item] = field(default_factory=list)
    raw_items: list[Item] = field(default_factory=list)
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (rel, href, bytes)
    block: str | None = None  # the models: block this view is the folded section of
    blocks: list[SectionView] = field(default_factory=list)  # the models analysis: one per block


@lru_cache(maxsize=4)
def load_layout(path: str | Path = LAYOUT) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def href(report_dir: Path, version_rel: str) -> str:
    """A link from the report folder to a file of the version folder (``../<analysis>/...``)."""
    return Path(os.path.relpath(report_dir.parent / version_rel, report_dir)).as_posix()


def matches(rel: str, pattern: str) -> bool:
    """fnmatch within path levels: '*' does not cross '/'."""
    return rel.count("/") == pattern.count("/") and fnmatch(rel, pattern)


def image_size(path: Path) -> tuple[int | None, int | None]:
    """(width, height) in pixels of a PNG, from its header; (None, None) for other files."""
    with Path(path).open("rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None, None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def figure(version_dir: Path, report_dir: Path, rel: str) -> Figure:
    """A figure of the version folder, shown from its file (the page holds only its path)."""
    link = href(report_dir, rel)
    width, height = image_size(version_dir / rel)
    return Figure(rel, link, link, Path(rel).stem.replace("_", " "), width, height)


def _in_section(rel: str) -> str:
    """A version-relative path without its analysis folder (the section already names it)."""
    return rel.split("/", 1)[1] if "/" in rel else rel


def _json_item(report_dir: Path, doc: collect.JsonDoc, approximate: dict[str, str]) -> Item:
    method = approximate.get(doc.path)
    heading = RAW_HEADINGS[doc.kind] + (f" (approximate fit: {method})" if method else "")
    return Item(
        doc.path, href(report_dir, doc.path), doc.kind, heading, json=doc.data, approximate=method
    )


def _table_item(report_dir: Path, table: collect.Table) -> Item:
    name = Path(table.path).name
    kind = (
        "comparison"
        if "comparison" in name or "_vs_" in name
        else ("diagnostics" if json_kind(name) == "diagnostics" else "table")
    )
    return Item(
        table.path,
        href(report_dir, table.path),
        kind,
        RAW_HEADINGS[kind],
        table=table,
        rows=len(table.rows) + table.truncated,
    )


def _split_figures(
    section: collect.AnalysisSection, patterns: list[str] | None
) -> tuple[list, list]:
    if not patterns:
        return section.figures[:DEFAULT_KEY_FIGURES], section.figures[DEFAULT_KEY_FIGURES:]
    key = [rel for pattern in patterns for rel in section.figures if matches(rel, pattern)]
    key = list(dict.fromkeys(key))
    if not key:
        key = section.figures[:DEFAULT_KEY_FIGURES]
    return key, [rel for rel in section.figures if rel not in key]


def build(
    version_dir: Path,
    report_dir: Path,
    section: collect.AnalysisSection,
    headlines: list[Headline],
    layout: dict | None = None,
    *,
    anchor: str | None = None,
) -> SectionView:
    """The view of ``section``; its key numbers are the headline rows of its files."""
    layout = load_layout() if layout is None else layout
    plan = layout.get(section.name) or {}
    view = SectionView(section, anchor or f"analysis-{section.name}")
    view.key_numbers = [
        h
        for h in headlines
        if h.analysis == section.name
        and h.verdict != NOT_RUN
        and (section.folder == section.name or (h.file or "").startswith(f"{section.folder}/"))
    ]
    key, more = _split_figures(section, plan.get("key_figures"))
    view.key_figures = [figure(version_dir, report_dir, rel) for rel in key]
    view.more_figures = [figure(version_dir, report_dir, rel) for rel in more]
    approximate = {fit.source: fit.method for fit in section.approximate}
    items = [_json_item(report_dir, d, approximate) for d in section.json_docs]
    items += [_table_item(report_dir, t) for t in section.tables]
    key_patterns = plan.get("key_tables") or []
    for item in items:
        if any(matches(item.rel, p) for p in key_patterns):
            view.key_items.append(item)
        else:
            view.raw_items.append(item)
    view.raw_items.sort(key=lambda item: (RAW_ORDER.index(item.kind), item.rel))
    view.files = [(rel, href(report_dir, rel), size) for rel, size in section.files]
    for item in view.key_items + view.raw_items:
        item.heading = f"{item.heading}: {_in_section(item.rel)}"
    return view
