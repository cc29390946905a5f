"""The shared test helpers: ``executed_jobs`` must not turn output it cannot read into 'no jobs'."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import UnparsedOutput, executed_jobs  # noqa: E402

# Snakemake 9's plan, as printed before a run (and by --dry-run).
PLAN = """Building DAG of jobs...
Using shell: /usr/bin/bash
Provided cores: 2
Job stats:
job                             count
----------------------------  -------
reedfrogs_prepare                   1
zillow_stan_compile                 4
all                                 1
total                               6

Select jobs to execute...
"""


def test_reads_the_job_table():
    assert executed_jobs(PLAN) == {"reedfrogs_prepare": 1, "zillow_stan_compile": 4, "all": 1}


def test_nothing_to_be_done_is_no_jobs():
    output = (
        "Building DAG of jobs...\n"
        "Nothing to be done (all requested files are present and up to date).\n"
    )
    assert executed_jobs(output) == {}


@pytest.mark.parametrize(
    "output",
    [
        "",
        "WorkflowError in file Snakefile, line 3:\nConfig file config/missing.yaml not found.\n",
        PLAN.replace("Job stats:", "Job statistics:"),  # a reworded table
        "Job stats:\njob count\n---- -----\n\n",  # a table without rows
    ],
)
def test_unreadable_output_raises_with_the_output(output):
    with pytest.raises(UnparsedOutput) as caught:
        executed_jobs(output)
    assert output[-200:] in str(caught.value)
