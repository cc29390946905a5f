"""Keep Snakemake's console readable: each job's block says which files, not every file.

Snakemake prints every input and output of a job on one line, and the reason it runs with each
changed input; for the report (every figure and table of every analysis) and the target ``all``
those lines run to several kilobytes and bury the lines a user reads. ``shorten_job_lines``
installs a filter on Snakemake's logger that keeps the first few files of each list with a
count of the rest, and cuts a long reason short. Nothing is lost: the job record
(``logs/<job>.job.json``) lists every input and output, and ``snakemake --summary`` every file.
"""

from __future__ import annotations

import logging

# The scheduler's chatter between job blocks, and what a script rule prints as its "shell
# command": nothing a user reads (each job block and each "Finished jobid" line stay).
QUIET_MESSAGES = ("Select jobs to execute...", "Shell command: None")
SHOWN_FILES = 3
REASON_CHARS = 400
SNAKEMAKE_LOGGER = "snakemake.logging"
FILE_FIELDS = ("input", "output", "log")
DEFAULT_RESOURCES = {"_cores", "_nodes", "tmpdir"}
# A first run's reason for every job: its outputs are missing (listed just above), and for most
# its inputs come from jobs of the same run. Any other reason (params, code, a changed input) is
# shown, also beside these; so is "Input files updated" when the outputs exist (a rerun's chain).
MISSING_OUTPUT = "Missing output files"
UPSTREAM = "Input files updated by another job"


def _shorter(files) -> list[str]:
    files = list(files or [])
    if len(files) <= SHOWN_FILES + 1:
        return files
    return [*files[:SHOWN_FILES], f"... and {len(files) - SHOWN_FILES} more files"]


def _first_run_reason(reason: str) -> bool:
    parts = reason.split("; ")  # Snakemake joins a job's reasons with "; "
    return parts[0].startswith(MISSING_OUTPUT) and all(
        part.startswith((MISSING_OUTPUT, UPSTREAM)) for part in parts
    )


def _quiet(record: logging.LogRecord) -> bool:
    text = record.msg if isinstance(record.msg, str) else ""
    return text in QUIET_MESSAGES or (text.startswith("Execute ") and text.endswith(" jobs..."))


class ShortJobLines(logging.Filter):
    """Shortens the file lists and the reason of Snakemake's job records.

    Also drops the lines that repeat what every job has: the benchmark path (beside the log, in
    the analysis' ``benchmarks/``), a resources line of defaults only (tmpdir), the priority, the
    reason of a first run (missing outputs, inputs made by this run: the outputs are listed just
    above; any other reason stays), and the scheduler's "Select jobs" / "Execute N jobs" /
    "Shell command: None" lines. A job's block is then about 10 lines: its rule, files, log,
    jobid, reason (when news), wildcards, and when it finished.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _quiet(record):
            return False
        if hasattr(record, "benchmark"):
            record.benchmark = None
        if getattr(record, "priority", 0):
            record.priority = 0
        resources = getattr(record, "resources", None)
        if hasattr(resources, "keys") and set(resources.keys()) <= DEFAULT_RESOURCES:
            record.resources = {}
        for field in FILE_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, (list, tuple)):
                setattr(record, field, _shorter(value))
        reason = getattr(record, "reason", None)
        if isinstance(reason, str) and _first_run_reason(reason):
            record.reason = None  # the output line just above says which files
        elif isinstance(reason, str) and len(reason) > REASON_CHARS:
            record.reason = reason[:REASON_CHARS] + " ... (cut short; the job record lists all)"
        return True


def shorten_job_lines(name: str = SNAKEMAKE_LOGGER) -> None:
    """Install the filter once on Snakemake's logger.

    Idempotent: the Snakefile may be parsed more than once in one process.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, ShortJobLines) for f in logger.filters):
        logger.addFilter(ShortJobLines())
