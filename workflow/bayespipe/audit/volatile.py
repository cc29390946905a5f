"""Which parts of a version's files are written per run, declared per file kind.

Two runs of the same code, config, data and software give the same results, but some files also
record the run itself: wall-clock seconds, timestamps, the host, absolute paths of the checkout.
The code that writes a file declares those fields (a ``VOLATILE_FIELDS`` constant beside the
writer); this registry maps each file kind (glob patterns on the path inside the version folder)
to its declaration. ``reproduce`` ignores exactly the declared fields and compares everything
else: no field is skipped for its name alone, so a result such as
``missing_completely_at_random`` is compared like any other.

Fields are dotted JSON keys, ``*`` standing for any one key or list item
(``evaluations.*.evaluation_seconds``); for CSV/TSV kinds they are column names. A kind marked
``per_run`` is written per run as a whole (text logs, benchmarks, the HTML page): only its
presence is compared.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any

# Declared here until their writers declare them (bayespipe.jobs, bayespipe.provenance,
# bayespipe.engines.stan.engine, bayespipe.analyses.zillow.fit, .sinusoid.network and
# .calibration are being reworked): move each tuple beside its writer and import it below, as
# the others are.

# bayespipe.jobs.job(): the record's frame, and the per-run values scripts add under "extra".
JOB_RECORD_FIELDS = (
    "start_time",
    "end_time",
    "wall_seconds",
    "host",
    "platform",
    "slurm_job_id",
    "run_version",  # the run that made the job: an earlier version when the job was reused
    "params.root",  # the checkout's absolute path (report rules)
    # {path: sha256}: an input with per-run fields has another sha256 after every run; each
    # input file is compared itself (raw inputs are checked against these hashes when staging)
    "inputs.*",
    "extra.train_seconds",
    "extra.sampling_seconds",
    "extra.prior_sampling_seconds",
    "extra.metrics.sampling_seconds",
    "extra.compile.compile_seconds",
    "extra.compile.exe_file",
    "extra.comparison.*.wall_seconds",
    "extra.comparison.*.min_ess_bulk_per_second",
    "extra.generated",
)
# bayespipe.provenance.build_manifest / write_manifest and run_info() in common.smk. Every
# file's sha256 and size are left to the comparison of the files themselves.
MANIFEST_FIELDS = (
    "start_time",
    "end_time",
    "command_line",
    "workdir",
    "host",
    "git",
    *(f"jobs.*.{field}" for field in JOB_RECORD_FIELDS if field != "inputs.*"),
    "jobs.*.reused_from",
    "jobs.*.inputs.*.sha256",
    "files.*.sha256",
    "files.*.size",
    "files.*.params.root",
    "files.*.inputs.*.sha256",
)
# bayespipe.engines.stan.engine: the compile stamp (the build folder is in the user's cache).
COMPILE_STAMP_FIELDS = (
    "compile_seconds",
    "compiled_at",
    "build_folder",
    "exe_file",
    "stanc_options_used.include-paths",
)
# bayespipe.analyses.zillow.fit: held-out metrics of each Stan model.
ZILLOW_HELDOUT_FIELDS = ("sampling_seconds", "prior_sampling_seconds")
# bayespipe.analyses.sinusoid.network: each variant's metrics.json and the summary CSV.
SINUSOID_FIELDS = ("train_seconds",)
# bayespipe.analyses.calibration: each batch of fits, and calibration.json (program -> verdict).
CALIBRATION_BATCH_FIELDS = ("seconds", "cpu_seconds", "replications.*.seconds")
CALIBRATION_SUMMARY_FIELDS = ("*.seconds", "*.cpu_seconds", "*.fit_seconds")


@dataclass(frozen=True)
class FileKind:
    name: str
    patterns: tuple[str, ...]  # fnmatch globs on the path inside the version folder
    fields: tuple[str, ...] = ()
    per_run: bool = False

    def matches(self, rel: str) -> bool:
        return any(fnmatch(rel, pattern) for pattern in self.patterns)


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
    """Every declared file kind (writers are imported here, not when the audit CLI starts)."""
    from bayespipe.analyses.mnist import lenet
    from bayespipe.analyses.moons import network as moons
    from bayespipe.analyses.tadpoles import model as tadpoles
    from bayespipe.analyses.tadpoles import tfp_hmc
    from bayespipe.analyses.zillow import network as zillow_network
    from bayespipe.engines.stan import outputs as stan_outputs

    return PER_RUN_KINDS + (
        FileKind("job record", ("*/logs/*.job.json",), JOB_RECORD_FIELDS),
        FileKind("manifest", ("manifest.json",), MANIFEST_FIELDS),
        FileKind("Stan compile stamp", ("*/stan/*.compile.json",), COMPILE_STAMP_FIELDS),
        FileKind(
            "Stan diagnostics", ("*/diagnostics.json",), stan_outputs.VOLATILE_FIELDS["diagnostics"]
        ),
        FileKind(
            "tadpoles fit metrics",
            ("tadpoles/fit/metrics.json",),
            tadpoles.VOLATILE_FIELDS["metrics"],
        ),
        FileKind(
            "NUTS vs TFP HMC table",
            ("tadpoles/compare/nuts_vs_tfp_hmc.csv",),
            tfp_hmc.VOLATILE_FIELDS["comparison"],
        ),
        FileKind(
            "Zillow held-out metrics", ("zillow/*/heldout_metrics.json",), ZILLOW_HELDOUT_FIELDS
        ),
        FileKind(
            "Zillow network metrics",
            ("zillow/network/metrics.json",),
            zillow_network.VOLATILE_FIELDS["metrics"],
        ),
        FileKind("moons metrics", ("moons/*/metrics.json",), moons.VOLATILE_FIELDS["metrics"]),
        FileKind("moons summary", ("moons/moons_metrics.csv",), moons.VOLATILE_FIELDS["summary"]),
        FileKind(
            "sinusoid metrics",
            ("sinusoid/*/metrics.json", "sinusoid/sinusoid_metrics.csv"),
            SINUSOID_FIELDS,
        ),
        FileKind("LeNet metrics", ("mnist/train/metrics.json",), lenet.VOLATILE_FIELDS["metrics"]),
        FileKind(
            "LeNet evaluations",
            ("mnist/train/evaluations.csv",),
            lenet.VOLATILE_FIELDS["evaluations"],
        ),
        FileKind("calibration batch", ("calibration/batches/*/*.json",), CALIBRATION_BATCH_FIELDS),
        FileKind(
            "calibration summary", ("calibration/calibration.json",), CALIBRATION_SUMMARY_FIELDS
        ),
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
