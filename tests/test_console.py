"""Snakemake's job blocks stay short on the console; the records keep every file."""

from __future__ import annotations

import logging

from bayespipe import console


def job_record(n: int, reason: str) -> logging.LogRecord:
    record = logging.LogRecord("snakemake.logging", logging.INFO, __file__, 1, "job", (), None)
    files = [f"results/.work/test/zillow/model_{i}/posterior_predictive.png" for i in range(n)]
    record.input, record.output, record.log = files, files[:2], []
    record.reason = reason
    return record


def test_long_file_lists_and_reasons_are_cut_short():
    record = job_record(250, "Input files updated by another job: " + "x.png, " * 2000)
    assert console.ShortJobLines().filter(record) is True
    assert record.input[:3] == [
        f"results/.work/test/zillow/model_{i}/posterior_predictive.png" for i in range(3)
    ]
    assert record.input[3] == "... and 247 more files"
    assert len(", ".join(record.input)) < 1000
    assert len(record.reason) < 500 and record.reason.endswith("the job record lists all)")
    assert len(record.output) == 2 and record.log == []


def test_short_lists_are_left_alone():
    record = job_record(4, "Missing output files")
    console.ShortJobLines().filter(record)
    assert len(record.input) == 4 and record.reason == "Missing output files"


def test_installed_once():
    name = "bayespipe-test-logger"
    console.shorten_job_lines(name)
    console.shorten_job_lines(name)
    filters = logging.getLogger(name).filters
    assert sum(isinstance(f, console.ShortJobLines) for f in filters) == 1
