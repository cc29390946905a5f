"""The wrapper every Snakemake script runs its work in.

``with job(snakemake) as record:`` sends logging, stdout and stderr to the rule's log file,
removes the declared outputs if the work fails (no partial results), and on success writes the
job record ``logs/<job>.job.json`` beside the log. The manifest is assembled from these records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bayespipe.codedeps import loaded_package_modules
from bayespipe.io import sha256_file, write_json

# Set by the Snakefile in the main process; jobs (local or on a cluster) inherit it, so each
# job record names the version whose run made it, and a later version can say it reused it.
RUN_VERSION_ENV = "BAYESPIPE_VERSION"
WORKFLOW_ROOT_ENV = "BAYESPIPE_ROOT"

# Fields of a job record that change from run to run (bayespipe.audit.volatile reads them):
# the record's frame, and the per-run values scripts add under "extra".
VOLATILE_FIELDS = (
    "start_time",
    "end_time",
    "wall_seconds",
    "host",
    "platform",
    "slurm_job_id",
    "run_version",  # the run that made the job: an earlier version when the job was reused
    "params.root",  # the checkout's absolute path (report rules)
    "job_key",  # a digest of the params, root included
    # {path: sha256}: an input with per-run fields has another sha256 after every run; each
    # input file is compared itself (raw inputs are checked against these hashes when staging)
    "inputs.*",
    "extra.train_seconds",
    "extra.hmc_seconds",
    "extra.sampling_seconds",
    "extra.prior_sampling_seconds",
    "extra.metrics.sampling_seconds",
    "extra.compile.compile_seconds",
    "extra.compile.exe_file",
    "extra.compile.model_name",
    "extra.comparison.*.wall_seconds",
    "extra.comparison.*.min_ess_bulk_per_second",
    "extra.generated",
)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A job still running after this many seconds prints one progress line to the console (the
# run's stderr) every this many seconds: the last line of its log, cut to PROGRESS_CHARS.
PROGRESS_SECONDS = 25.0
PROGRESS_CHARS = 200


def job_record_path(log_file: str | Path) -> Path:
    log_file = Path(log_file)
    return log_file.with_name(log_file.stem + ".job.json")


def job_key(params: dict) -> str:
    """Digest a job's params (which carry its code digest, ``job_code``) into its key.

    Recorded in the job record; ``bayespipe.jobkeys`` compares it at the next
    run's start, so a change reruns the job even without Snakemake's metadata.
    """
    text = json.dumps(jsonable(params), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def jsonable(value: Any) -> Any:
    """Params and resources as plain JSON (Snakemake containers, paths, numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _named(container) -> dict:
    """Snakemake's Namedlist as {name: value}, positional entries under their index."""
    names = {}
    if hasattr(container, "_names"):
        for name, (start, end) in container._names.items():
            names[name] = (
                container[start] if end is None or end == start + 1 else list(container[start:end])
            )
    if not names:
        names = {str(i): v for i, v in enumerate(container)}
    return names


def _files(container) -> list[str]:
    return [str(f) for f in container]


def _remove_outputs(paths: list[str]) -> None:
    for path in paths:
        p = Path(path)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _last_line(log_file: Path) -> str:
    """The last non-empty line of the log (read from its last 4 KB)."""
    try:
        with Path(log_file).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


@contextlib.contextmanager
def _progress(label: str, log_file: Path, console_fd: int, every: float = PROGRESS_SECONDS):
    """Print ``label: N s, <last log line>`` to ``console_fd`` while the block runs.

    Every ``every`` seconds: a long fit or training says it is alive without the console filling.
    """
    stop = threading.Event()
    console = os.fdopen(os.dup(console_fd), "w", buffering=1)
    clock = time.perf_counter()

    def beat():
        while not stop.wait(every):
            seconds = time.perf_counter() - clock
            line = _last_line(log_file)[:PROGRESS_CHARS]
            console.write(f"bayespipe: {label} running, {seconds:.0f} s: {line}\n")

    thread = threading.Thread(target=beat, name="bayespipe-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        console.close()


@contextlib.contextmanager
def _redirect_to(log_file: Path) -> Iterator[None]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handle = log_file.open("a", buffering=1)  # noqa: SIM115 (closed in the finally below)
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    saved_fds = (os.dup(1), os.dup(2))
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle.fileno(), 1)  # C extensions (TensorFlow, Stan) write to the descriptors
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle
    root = logging.getLogger()
    handler = logging.StreamHandler(handle)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    try:
        with _progress(log_file.stem, log_file, saved_fds[1]):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        sys.stdout.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in saved_fds:
            os.close(fd)
        sys.stdout, sys.stderr = saved_stdout, saved_stderr
        handle.close()


@contextlib.contextmanager
def job(smk, *, stan_file: str | None = None) -> Iterator[dict]:
    """Run one Snakemake job's work with logging, cleanup on failure and a job record."""
    outputs = _files(smk.output)
    log_files = _files(smk.log)
    if not log_files:
        raise RuntimeError(f"rule {smk.rule} has no log: every rule must declare one")
    log_file = Path(log_files[0])
    record: dict[str, Any] = {}
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    with _redirect_to(log_file):
        logger = logging.getLogger(f"bayespipe.{smk.rule}")
        logger.info("rule %s started on %s", smk.rule, socket.gethostname())
        try:
            yield record
        except BaseException:
            logger.error("rule %s failed:\n%s", smk.rule, traceback.format_exc())
            _remove_outputs(outputs)
            raise
        missing = [p for p in outputs if not Path(p).exists()]
        if missing:
            _remove_outputs(outputs)
            raise RuntimeError(f"rule {smk.rule} finished without writing {missing}")
        logger.info("rule %s finished in %.1f s", smk.rule, time.perf_counter() - clock)
    write_json(
        job_record_path(log_file),
        {
            "rule": smk.rule,
            "wildcards": jsonable(dict(smk.wildcards.items())),
            "inputs": {
                path: sha256_file(path) for path in _files(smk.input) if Path(path).is_file()
            },
            "input_names": jsonable(_named(smk.input)),
            "outputs": outputs,
            "params": jsonable(dict(smk.params.items())),
            "job_key": job_key(dict(smk.params.items())),
            "threads": smk.threads,
            "log": log_files,
            "stan_file": stan_file,
            "stan_file_sha256": sha256_file(stan_file) if stan_file else None,
            "start_time": started.isoformat(),
            "end_time": dt.datetime.now(dt.UTC).isoformat(),
            "wall_seconds": round(time.perf_counter() - clock, 3),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "run_version": os.environ.get(RUN_VERSION_ENV),
            # What the job actually imported from the package; a test checks that the job's
            # code key (params.job_code) covers all of it.
            "package_modules": sorted(
                loaded_package_modules(os.environ.get(WORKFLOW_ROOT_ENV, Path.cwd()), sys.modules)
            ),
            "extra": jsonable(record),
        },
    )
