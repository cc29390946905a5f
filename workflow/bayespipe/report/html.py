"""The report as one static HTML file: inline CSS, no scripts, no external URLs, images embedded.

Links to result files are relative to ``report/index.html`` (``../<analysis>/...``), so the
report works from any copy of the version folder, with or without a web server.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayespipe.io import atomic_path
from bayespipe.provenance import MANIFEST, ROCRATE
from bayespipe.report import collect

MAX_EMBEDDED_IMAGE = 3_000_000  # bytes; larger figures are linked instead
MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
MAX_JSON_DEPTH = 4
MAX_LIST_ROWS = 40
MAX_INLINE_ENTRIES = 15

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;background:#fafbfc}
header{background:#23395b;color:#fff;padding:1rem 2rem}header h1{margin:0;font-size:1.5rem}
header p{margin:.3rem 0 0;opacity:.85}
nav{padding:.5rem 2rem;background:#e8edf4;position:sticky;top:0}nav a{margin-right:1rem;color:#23395b}
main{padding:0 2rem 3rem;max-width:1200px}section{margin-top:2rem}
h2{border-bottom:2px solid #23395b;padding-bottom:.2rem}h3{margin-top:1.5rem}h4{margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #c9d1dc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.fail,.fail td{background:#fde2e1;color:#8a1c14;font-weight:600}.pass{color:#1b6b2f;font-weight:600}
.badge{display:inline-block;border-radius:.6rem;padding:0 .5rem;font-size:.8rem}
.badge.pass{background:#dcf3e2}.badge.fail{background:#fde2e1}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;max-width:560px;vertical-align:top}
figure img{max-width:100%;border:1px solid #d5dbe3;background:#fff}
figcaption{font-size:.8rem;color:#4a5565}
pre{background:#f1f3f6;padding:.6rem;overflow-x:auto;font-size:.8rem}
.path{font-family:ui-monospace,monospace;font-size:.8rem}.muted{color:#667}
details{margin:.5rem 0}summary{cursor:pointer}
"""


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
    generated: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def anchor(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "-" for c in p).strip("-").lower() for p in parts)


class Page:
    """Collects HTML fragments; remembers every id it defines so links can be checked."""

    def __init__(self, report_dir: Path):
        self.report_dir = report_dir
        self.parts: list[str] = []
        self.ids: set[str] = set()

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def new_id(self, *parts: str) -> str:
        base = anchor(*parts)
        ident, n = base, 1
        while ident in self.ids:
            n += 1
            ident = f"{base}-{n}"
        self.ids.add(ident)
        return ident

    def link(self, version_rel: str, text: str | None = None) -> str:
        """A relative link from the report folder to a file of the version folder."""
        target = os.path.relpath(self.report_dir.parent / version_rel, self.report_dir)
        return f'<a class="path" href="{esc(Path(target).as_posix())}">{esc(text or version_rel)}</a>'


# -- value rendering -------------------------------------------------------------------------
def cell(value: Any) -> str:
    if isinstance(value, bool):
        return f'<td class="{"pass" if value else "fail"}">{"pass" if value else "FAIL"}</td>'
    if isinstance(value, float):
        return f'<td class="num">{esc(format_number(value))}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    if isinstance(value, (dict, list)):
        return f"<td><code>{esc(json.dumps(value, sort_keys=True, default=str)[:300])}</code></td>"
    return f"<td>{esc('' if value is None else value)}</td>"


def format_number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _is_failed_row(row: dict) -> bool:
    return any(row.get(k) is False for k in collect.PASS_KEYS) or any(
        isinstance(v, str) and v.lower() in ("fail", "failed") for v in row.values()
    )


def records_table(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    out = ["<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"]
    for row in rows[:MAX_LIST_ROWS]:
        cls = ' class="fail"' if _is_failed_row(row) else ""
        out.append(f"<tr{cls}>" + "".join(cell(row.get(c)) for c in columns) + "</tr>")
    out.append("</table>")
    if len(rows) > MAX_LIST_ROWS:
        out.append(f'<p class="muted">{len(rows) - MAX_LIST_ROWS} more rows in the file.</p>')
    return "".join(out)


def _tabular(value) -> bool:
    """A list of records or a dict of same-shaped flat dicts: shown as one table."""
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) for v in value)
    values = list(value.values()) if isinstance(value, dict) else []
    return bool(values) and all(isinstance(v, dict) and v and all(not isinstance(x, (dict, list)) for x in v.values()) for v in values)


def mapping_table(data: dict, depth: int = 0, fold_details: bool = False) -> str:
    """Scalars as key/value rows; a dict of same-shaped dicts as one table with a row per key."""
    values = list(data.values())
    if values and all(isinstance(v, dict) and v and all(not isinstance(x, (dict, list)) for x in v.values()) for v in values):
        return records_table([{"name": k, **v} for k, v in data.items()])
    rows, nested = [], []
    for key, value in data.items():
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
            nested.append((key, value))
        else:
            cls = ' class="fail"' if value is False else ""
            rows.append(f"<tr{cls}><th>{esc(key)}</th>{cell(value)}</tr>")
    out = [f"<table>{''.join(rows)}</table>"] if rows else []
    if fold_details:  # keep the tables (e.g. a fit's checks) in view, fold the rest
        tables = [(k, v) for k, v in nested if _tabular(v)]
        rest = [(k, v) for k, v in nested if not _tabular(v)]
        out += [f"<h4>{esc(k)}</h4>{render_json(v, depth + 1)}" for k, v in tables]
        if rest:
            inner = "".join(f"<h4>{esc(k)}</h4>{render_json(v, depth + 1)}" for k, v in rest)
            out.append(f"<details><summary>more: {esc(', '.join(k for k, _ in rest))}</summary>{inner}</details>")
        return "".join(out)
    for key, value in nested:
        if len(value) > MAX_INLINE_ENTRIES:  # long listings (null fractions, per-zip effects) fold away
            out.append(f"<details><summary><b>{esc(key)}</b> ({len(value)} entries)</summary>{render_json(value, depth + 1)}</details>")
        else:
            out.append(f"<h4>{esc(key)}</h4>{render_json(value, depth + 1)}")
    return "".join(out)


def render_json(data: Any, depth: int = 0) -> str:
    if depth > MAX_JSON_DEPTH:
        return f"<pre>{esc(json.dumps(data, indent=1, sort_keys=True, default=str)[:4000])}</pre>"
    if isinstance(data, dict):
        return mapping_table(data, depth) if data else '<p class="muted">(empty)</p>'
    if isinstance(data, list):
        if data and all(isinstance(v, dict) for v in data):
            return records_table(data)
        return f"<p>{esc(', '.join(map(str, data[:200])))}</p>"
    return f"<p>{esc(data)}</p>"


def csv_table(table: collect.Table) -> str:
    out = ["<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in table.header) + "</tr>"]
    for row in table.rows:
        lowered = [v.strip().lower() for v in row]
        cls = ' class="fail"' if "false" in lowered or "fail" in lowered or "failed" in lowered else ""
        out.append(f"<tr{cls}>" + "".join(cell(_number(v)) for v in row) + "</tr>")
    out.append("</table>")
    if table.truncated:
        out.append(f'<p class="muted">{table.truncated} more rows in the file.</p>')
    return "".join(out)


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def figure(page: Page, version_dir: Path, rel: str) -> str:
    path = version_dir / rel
    caption = f"{esc(Path(rel).stem.replace('_', ' '))} &middot; {page.link(rel, Path(rel).name)}"
    if path.stat().st_size <= MAX_EMBEDDED_IMAGE:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        src = f"data:{MIME[path.suffix.lower()]};base64,{data}"
    else:
        src = esc(Path(os.path.relpath(path, page.report_dir)).as_posix())
    return f'<figure><img src="{src}" alt="{esc(rel)}" loading="eager"><figcaption>{caption}</figcaption></figure>'


# -- sections -------------------------------------------------------------------------------
def _in_section(rel: str) -> str:
    """A version-relative path without its analysis folder (the section already names it)."""
    return rel.split("/", 1)[1] if "/" in rel else rel


def gate_badge(gates: list[collect.Gate]) -> str:
    if not gates:
        return '<span class="muted">no gates recorded</span>'
    failed = [g for g in gates if not g.passed]
    if failed:
        return f'<span class="badge fail">{len(failed)} of {len(gates)} failed</span>'
    return f'<span class="badge pass">all {len(gates)} passed</span>'


def summary_section(page: Page, info: RunInfo, sections: list[collect.AnalysisSection], device_list: list[str]) -> None:
    gates = [g for s in sections for g in s.gates]
    git = info.git or {}
    commit = git.get("commit") or "not a git checkout"
    if git.get("dirty"):
        commit += " (uncommitted changes: see the code snapshot)"
    engine = ", ".join(f"{k} {v}" for k, v in info.stan_engine.items() if k != "engine" and v)
    rows = [
        ("Version", esc(info.version)),
        ("Report generated", esc(info.generated)),
        ("Code commit", esc(commit)),
        ("Code snapshot", page.link("report/code-snapshot/Snakefile", "report/code-snapshot/")),
        ("Stan engine", esc(f"{info.stan_engine.get('engine')} ({engine})")),
        ("Devices", esc("; ".join(device_list) or "CPU only (no job reported a device)")),
        ("Host", esc(f"{info.host.get('name')} · {info.host.get('cpu_model')} · {info.host.get('cores')} cores · GPUs: {', '.join(info.host.get('gpus') or []) or 'none'}")),
        ("Analyses", esc(", ".join(info.analyses))),
        ("Convergence gates", gate_badge(gates)),
    ]
    if info.reused:
        rows.append(("Reused", esc(", ".join(f"{k} from {v}" for k, v in info.reused.items()))))
    gate_rows = "".join(
        f'<tr class="{"pass" if g.passed else "fail"}"><td>{esc(g.source)}</td><td>{esc(g.name)}</td>'
        f'<td>{"pass" if g.passed else "FAIL"}</td><td>{esc(", ".join(g.failed_checks))}</td></tr>'
        for g in gates
    )
    page.add(
        f'<section id="{page.new_id("summary")}"><h2>Summary</h2><table>'
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
        + (f"<h3>Gates</h3><table><tr><th>file</th><th>fit</th><th>verdict</th><th>failed checks</th></tr>{gate_rows}</table>" if gates else "")
        + "</section>"
    )


JSON_HEADINGS = {"data_card": "Data card", "diagnostics": "Diagnostics", "metrics": "Metrics", "other": "Other results"}


def json_doc_html(page: Page, section: collect.AnalysisSection, doc: collect.JsonDoc) -> str:
    failed = doc.kind == "diagnostics" and any(not g.passed for g in section.gates if g.source == doc.path)
    mark = ' <span class="badge fail">failed gates</span>' if failed else ""
    title = f"{JSON_HEADINGS[doc.kind]}: {page.link(doc.path, _in_section(doc.path))}{mark}"
    ident = page.new_id(section.name, doc.path)
    if doc.kind == "other":  # supporting files: listed, folded
        return f'<details id="{ident}"><summary>{title}</summary>{render_json(doc.data)}</details>'
    if doc.kind == "diagnostics" and isinstance(doc.data, dict):  # the checks table in view, the rest folded
        return f'<h3 id="{ident}">{title}</h3>{mapping_table(doc.data, fold_details=True)}'
    return f'<h3 id="{ident}">{title}</h3>{render_json(doc.data)}'


def table_html(page: Page, section: collect.AnalysisSection, table: collect.Table) -> str:
    title = f"Table: {page.link(table.path, _in_section(table.path))}"
    ident = page.new_id(section.name, table.path)
    rows = len(table.rows) + table.truncated
    if rows > MAX_INLINE_ENTRIES:  # per-parameter summaries: folded
        return f'<details id="{ident}"><summary>{title} ({rows} rows)</summary>{csv_table(table)}</details>'
    return f'<h3 id="{ident}">{title}</h3>{csv_table(table)}'


def analysis_section(page: Page, version_dir: Path, section: collect.AnalysisSection) -> None:
    """Data cards, comparison tables, diagnostics, metrics, other tables, figures, supporting files."""
    docs = {kind: [d for d in section.json_docs if d.kind == kind] for kind in JSON_HEADINGS}
    comparisons = [t for t in section.tables if "comparison" in Path(t.path).name]
    other_tables = [t for t in section.tables if t not in comparisons]
    parts = [
        f'<section id="{page.new_id("analysis", section.name)}"><h2>{esc(section.title)}</h2>',
        f'<p>Folder <span class="path">{esc(section.folder)}/</span>: {len(section.files)} result files '
        f"&middot; convergence gates: {gate_badge(section.gates)}</p>",
    ]
    parts += [json_doc_html(page, section, d) for d in docs["data_card"]]
    parts += [table_html(page, section, t) for t in comparisons]
    parts += [json_doc_html(page, section, d) for d in docs["diagnostics"] + docs["metrics"]]
    parts += [table_html(page, section, t) for t in other_tables]
    if section.figures:
        parts.append(f'<h3 id="{page.new_id(section.name, "figures")}">Figures</h3>')
        parts += [figure(page, version_dir, rel) for rel in section.figures]
    parts += [json_doc_html(page, section, d) for d in docs["other"]]
    listing = "".join(f"<tr><td>{page.link(rel)}</td><td class=\"num\">{size:,}</td></tr>" for rel, size in section.files)
    parts.append(f"<details><summary>All {len(section.files)} result files</summary><table><tr><th>file</th><th>bytes</th></tr>{listing}</table></details>")
    parts.append("</section>")
    page.add("".join(parts))


def provenance_section(page: Page, info: RunInfo, records: list[dict], has_crate: bool) -> None:
    software = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in sorted(info.software.items()))
    jobs = [
        {"rule": r.get("rule"), "record": r.get("_record"), "wall s": r.get("wall_seconds"), "threads": r.get("threads"), "host": r.get("host")}
        for r in records
    ]
    links = [page.link(MANIFEST, "manifest.json (every file's hash, rule, inputs, params)")]
    if has_crate:
        links.append(page.link(ROCRATE, "ro-crate-metadata.json (Workflow Run Crate)"))
    page.add(
        f'<section id="{page.new_id("provenance")}"><h2>Provenance</h2>'
        f"<p>{' &middot; '.join(links)}. Trace any file with <code>bayespipe lineage &lt;file&gt;</code>; "
        f"re-run with <code>bayespipe reproduce results/{esc(info.version)}</code>.</p>"
        f"<h3>Software</h3><table>{software}</table>"
        f"<h3>Jobs</h3>{records_table(jobs) if jobs else '<p>No job records.</p>'}"
        f"<h3>Configuration</h3><details><summary>The resolved configuration of this version (every key, defaults filled)</summary>"
        f"<pre>{esc(json.dumps(info.config, indent=2, sort_keys=True, default=str))}</pre></details></section>"
    )


def warnings_section(page: Page, warnings: list[str], log_hits: list[tuple[str, list[str]]]) -> None:
    items = "".join(f"<li>{w}</li>" for w in warnings) or "<li>None.</li>"
    logs = "".join(f"<h4>{page.link(log)}</h4><pre>{esc(chr(10).join(lines))}</pre>" for log, lines in log_hits)
    page.add(
        f'<section id="{page.new_id("warnings")}"><h2>Warnings</h2><ul>{items}</ul>'
        + (f"<h3>Warnings in job logs</h3>{logs}" if logs else "")
        + "</section>"
    )


def collect_warnings(info: RunInfo, sections: list[collect.AnalysisSection]) -> list[str]:
    warnings = []
    present = {s.name for s in sections}
    for name in info.analyses:
        if name not in present:
            warnings.append(f"analysis {esc(name)} is enabled but has no results folder")
    for section in sections:
        for gate in section.gates:
            if not gate.passed:
                checks = f" ({esc(', '.join(gate.failed_checks))})" if gate.failed_checks else ""
                warnings.append(f"{esc(section.title)}: {esc(gate.name)} failed its convergence gates{checks}")
        warnings += [esc(p) for p in section.problems]
    if (info.git or {}).get("dirty"):
        warnings.append("the checkout had uncommitted changes; report/code-snapshot/ holds the code that ran")
    return warnings


def render(version_dir: str | Path, report_html: str | Path, info: RunInfo) -> str:
    version_dir, report_html = Path(version_dir), Path(report_html)
    page = Page(report_html.parent)
    sections = [collect.collect_analysis(version_dir, name) for name in collect.present_analyses(version_dir)]
    records = collect.load_job_records(version_dir)
    summary_section(page, info, sections, collect.devices(records))
    for section in sections:
        analysis_section(page, version_dir, section)
    provenance_section(page, info, records, info.config.get("report", True))
    warnings_section(page, collect_warnings(info, sections), collect.log_warnings(version_dir))
    nav = "".join(
        f'<a href="#{ident}">{esc(label)}</a>'
        for ident, label in [("summary", "Summary")]
        + [(anchor("analysis", s.name), s.title.split(":")[0]) for s in sections]
        + [("provenance", "Provenance"), ("warnings", "Warnings")]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>bayespipe {esc(info.version)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>bayespipe report &middot; version {esc(info.version)}</h1>"
        f"<p>{esc(info.generated)} &middot; {len(sections)} analyses</p></header>"
        f"<nav>{nav}</nav><main>{''.join(page.parts)}</main></body></html>\n"
    )


def write_report(version_dir: str | Path, report_html: str | Path, info: RunInfo) -> Path:
    text = render(version_dir, report_html, info)
    with atomic_path(report_html) as tmp:
        tmp.write_text(text)
    return Path(report_html)
