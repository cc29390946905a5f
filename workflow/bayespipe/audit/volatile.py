"""Which parts of a version's files are written per run, declared per file kind.

Two runs of the same code, config, data and software give the same results, but some files also
record the run itself: wall-clock seconds, timestamps, the host, absolute paths of the checkout.
Each analysis declares those fields for the files it writes (``outputs`` of its ``ANALYSIS``
declaration, see ``bayespipe.catalog``); shared writers (job records, the manifest, Stan fits)
keep a ``VOLATILE_FIELDS`` constant beside the writer. This registry maps each file kind (glob
patterns on the path inside the version folder) to its declaration. ``reproduce`` ignores
exactly the declared fields and compares everything else: no field is skipped for its name
alone, so a result such as ``missing_completely_at_random`` is compared like any other.

Fields are dotted JSON keys, ``*`` standing for any one key or list item
(``evaluations.*.evaluation_seconds``); for CSV/TSV kinds they are column names. A kind marked
``per_run`` is written per run as a whole (text logs, benchmarks, the HTML page): only its
presence is compared.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from bayespipe.catalog import FileKind, output_kinds

# Written per run as a whole.
PER_RUN_KINDS = (
    FileKind("job log", ("*/logs/*.log",), per_run=True),
    FileKind("benchmark", ("*/benchmarks/*.tsv",), per_run=True),
    FileKind("report page", ("report/index.html",), per_run=True),
    FileKind("Snakemake timestamp", ("*.snakemake_timestamp",), per_run=True),
    FileKind("RO-Crate", ("ro-crate-metadata.json",), per_run=True),  # dates, absolute paths
    FileKind("Snakemake report", ("snakemake-report.zip",), per_run=True),
)


@functools.cache
def registry() -> tuple[FileKind, ...]:
    """Every declared file kind: the shared ones, then those each analysis declares."""
    from bayespipe import jobs, provenance
    from bayespipe.engines.stan import engine as stan_engine
    from bayespipe.engines.stan import outputs as stan_outputs

    return (
        *PER_RUN_KINDS,
        FileKind("job record", ("*/logs/*.job.json",), jobs.VOLATILE_FIELDS),
        FileKind("manifest", ("manifest.json",), provenance.VOLATILE_FIELDS),
        FileKind(
            "Stan compile stamp",
            ("*/stan/*.compile.json", "models/*/stan/*.compile.json"),
            stan_engine.VOLATILE_FIELDS["compile_stamp"],
        ),
        FileKind(
            "Stan diagnostics",
            ("*/diagnostics.json", "models/*/diagnostics.json"),
            stan_outputs.VOLATILE_FIELDS["diagnostics"],
        ),
        *output_kinds(),
    )


def kind_of(rel: str, kinds: Iterable[FileKind] | None = None) -> FileKind | None:
    """The first declared kind whose patterns match ``rel`` (a path inside a version folder)."""
    return next(
        (kind for kind in (registry() if kinds is None else kinds) if kind.matches(rel)), None
    )


def declared(key: str, fields: Iterable[str]) -> bool:
    """Whether the dotted path ``key`` (list items by index) lies in a declared field."""
    parts = key.split(".")
    return any(
        len(pattern) <= len(parts)
        and all(p in ("*", k) for p, k in zip(pattern, parts[: len(pattern)], strict=True))
        for pattern in (field.split(".") for field in fields)
    )


def without_fields(value: Any, fields: Iterable[str]) -> Any:
    """``value`` (parsed JSON) without the declared fields; everything else untouched."""
    paths = [field.split(".") for field in fields]
    return _strip(value, paths) if paths else value


def _strip(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return value
    kept = {}
    for key, sub in items:
        here = [p for p in paths if p[0] in ("*", key)]
        if any(len(p) == 1 for p in here):
            continue
        kept[key] = _strip(sub, [p[1:] for p in here]) if here else sub
    return list(kept.values()) if isinstance(value, list) else kept


def without_columns(rows: list[list[str]], columns: Iterable[str]) -> list[list[str]]:
    """CSV rows (header first) without the declared columns."""
    if not rows:
        return rows
    drop = set(columns)
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    return [[row[i] for i in keep if i < len(row)] for row in rows]
