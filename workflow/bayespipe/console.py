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

SHOWN_FILES = 3
REASON_CHARS = 400
SNAKEMAKE_LOGGER = "snakemake.logging"
FILE_FIELDS = ("input", "output", "log")


def _shorter(files) -> list[str]:
    files = list(files or [])
    if len(files) <= SHOWN_FILES + 1:
        return files
    return [*files[:SHOWN_FILES], f"... and {len(files) - SHOWN_FILES} more files"]


class ShortJobLines(logging.Filter):
    """Shortens the file lists and the reason of Snakemake's job records (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for field in FILE_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, (list, tuple)):
                setattr(record, field, _shorter(value))
        reason = getattr(record, "reason", None)
        if isinstance(reason, str) and len(reason) > REASON_CHARS:
            record.reason = reason[:REASON_CHARS] + " ... (cut short; the job record lists all)"
        return True


def shorten_job_lines(name: str = SNAKEMAKE_LOGGER) -> None:
    """Install the filter once on Snakemake's logger.

    Idempotent: the Snakefile may be parsed more than once in one process.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, ShortJobLines) for f in logger.filters):
        logger.addFilter(ShortJobLines())
