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
    record = job_record(4, "Params have changed since last execution")
    console.ShortJobLines().filter(record)
    assert len(record.input) == 4 and record.reason == "Params have changed since last execution"


def test_a_missing_output_reason_is_left_out():
    record = job_record(2, "Missing output files: results/.work/test/zillow/model_0/x.png")
    console.ShortJobLines().filter(record)
    assert record.reason is None and len(record.output) == 2
    first_run = "Missing output files: x.png; Input files updated by another job: y.csv"
    record = job_record(2, first_run)  # Snakemake joins reasons with "; "
    console.ShortJobLines().filter(record)
    assert record.reason is None
    for news in (
        "Missing output files: x.png; Params have changed since last execution",
        "Input files updated by another job: y.csv",  # outputs exist: a rerun's chain of causes
    ):
        record = job_record(2, news)
        console.ShortJobLines().filter(record)
        assert record.reason == news


def test_installed_once():
    name = "bayespipe-test-logger"
    console.shorten_job_lines(name)
    console.shorten_job_lines(name)
    filters = logging.getLogger(name).filters
    assert sum(isinstance(f, console.ShortJobLines) for f in filters) == 1


def message(text: str) -> logging.LogRecord:
    return logging.LogRecord("snakemake.logging", logging.INFO, __file__, 1, text, (), None)


def test_scheduler_chatter_is_dropped_and_other_messages_kept():
    keep = console.ShortJobLines()
    for text in ("Select jobs to execute...", "Execute 2 jobs...", "Shell command: None"):
        assert keep.filter(message(text)) is False
    for text in ("Finished jobid: 3 (Rule: zillow_merge)", "Shell command: make all"):
        assert keep.filter(message(text)) is True


def test_lines_every_job_repeats_are_left_out_and_the_rest_kept():
    record = job_record(2, "Missing output files")
    record.benchmark, record.priority, record.jobid = "results/x/benchmarks/job.tsv", 50, 7
    record.resources = {"_cores": 2, "_nodes": 1, "tmpdir": "/tmp"}
    console.ShortJobLines().filter(record)
    assert (record.benchmark, record.priority, record.resources) == (None, 0, {})
    assert record.jobid == 7 and len(record.input) == 2
    record.resources = {"tmpdir": "/tmp", "mem_mb": 4000}  # a resource the user asked for stays
    console.ShortJobLines().filter(record)
    assert record.resources == {"tmpdir": "/tmp", "mem_mb": 4000}
