"""How the test run's jobs shared two cores (README: Where the time goes; tests/test_threads.py).

Every job declares one thread, so two run at once; the Stan compiles (and a models block's data
job, which its compile waits for) start before anything else, then the heads of the longest
chains (the Zillow data chain, MNIST).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from conftest import console_of, work_dir_of

pytestmark = pytest.mark.e2e

FIRST = re.compile(r"\w+_stan_compile|models_data")


def started_rules(console: str) -> list[str]:
    """Rules in the order Snakemake started their jobs (it prints a job's block as it starts)."""
    return re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", console, flags=re.M)


def job_records(workdir) -> list[dict]:
    return [json.loads(p.read_text()) for p in work_dir_of(workdir).glob("*/logs/*.job.json")]


def test_stan_compiles_start_first_then_the_longest_chains(test_run):
    started = started_rules(console_of(test_run).read_text())
    first = [i for i, rule in enumerate(started) if FIRST.fullmatch(rule)]
    rest = [i for i, rule in enumerate(started) if not FIRST.fullmatch(rule)]
    assert len(first) >= 6 and rest, started
    assert max(first) < min(rest), f"order of the first jobs: {started[: len(first) + 3]}"
    # Ready from the start, the heads of both chains come before any job of priority 0.
    chains = re.compile(
        r"zillow_(synthetic|merge|drop_nulls|predictors|drop_rows|split|groups"
        r"|standardize|missing_table)|mnist_(prepare|train|ood)"
    )
    plain = min(i for i in rest if not chains.fullmatch(started[i]))
    heads = [started.index(rule) for rule in ("zillow_synthetic", "mnist_prepare")]
    assert max(heads) < plain, started[: plain + 1]


def test_every_job_ran_on_one_declared_thread_and_two_ran_at_once(test_run):
    records = job_records(test_run)
    assert len(records) > 40
    assert {r["rule"]: r["threads"] for r in records if r["threads"] != 1} == {}
    events = []
    for record in records:
        events.append((dt.datetime.fromisoformat(record["start_time"]), 1))
        events.append((dt.datetime.fromisoformat(record["end_time"]), -1))
    running = most = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        most = max(most, running)
    assert most == 2, f"at most {most} jobs ran at once with --cores 2"
