"""bayespipe.jobkeys: which recorded jobs are stale, and the mark that makes them rerun."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bayespipe import jobkeys
from bayespipe.jobs import job_key

WORK = "results/.work/test"


def _job(root: Path, rule: str, params: dict, outputs: list[str], **wildcards) -> Path:
    """Outputs, then the job record (as a finished job leaves them); returns the record."""
    for out in outputs:
        (root / out).parent.mkdir(parents=True, exist_ok=True)
        (root / out).write_text(rule)
    stem = rule + "".join(f"_{v}" for v in wildcards.values())
    record = root / WORK / "a" / "logs" / f"{stem}.job.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps(
            {
                "rule": rule,
                "wildcards": wildcards,
                "outputs": outputs,
                "params": params,
                "job_key": job_key(params),
            }
        )
    )
    return record


def _current(params_by_rule: dict):
    def key(record: dict) -> str:
        return job_key(params_by_rule[record["rule"]])

    return key


def test_only_jobs_whose_key_changed_are_marked(tmp_path):
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    _job(tmp_path, "prepare", {"n": 3}, [f"{WORK}/a/data.csv"])
    found = jobkeys.check_work_tree(
        tmp_path / WORK,
        {"fit", "prepare"},
        _current({"fit": {"seed": 2}, "prepare": {"n": 3}}),
        root=tmp_path,
    )
    assert found.stale == {"fit": "key changed"}
    assert (tmp_path / WORK / "a" / "fit.csv").stat().st_mtime == jobkeys.STALE_MTIME
    assert (tmp_path / WORK / "a" / "data.csv").stat().st_mtime != jobkeys.STALE_MTIME


def test_nothing_changed_marks_nothing(tmp_path):
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    found = jobkeys.check_work_tree(
        tmp_path / WORK, {"fit"}, _current({"fit": {"seed": 1}}), root=tmp_path
    )
    assert found.stale == {} and found.marked == [] and found.summary() is None


def test_rules_this_run_does_not_run_are_left_alone(tmp_path):
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    found = jobkeys.check_work_tree(tmp_path / WORK, set(), _current({}), root=tmp_path)
    assert found.stale == {}


def test_outputs_newer_than_their_record_are_a_rerun_that_never_finished(tmp_path):
    record = _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    os.utime(record, (1000, 1000))
    found = jobkeys.check_work_tree(
        tmp_path / WORK, {"fit"}, _current({"fit": {"seed": 1}}), root=tmp_path
    )
    assert found.stale == {"fit": "outputs newer than the job record"}


def test_outputs_touched_just_after_their_record_are_not_a_rerun(tmp_path):
    """Snakemake touches a job's outputs after its process exits, seconds after the record."""
    record = _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    written = record.stat().st_mtime
    os.utime(tmp_path / WORK / "a" / "fit.csv", (written + 5, written + 5))
    found = jobkeys.check_work_tree(
        tmp_path / WORK, {"fit"}, _current({"fit": {"seed": 1}}), root=tmp_path
    )
    assert found.stale == {}


def test_an_output_without_a_record_is_marked(tmp_path):
    orphan = tmp_path / WORK / "a" / "fit" / "half.nc"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("partial")
    found = jobkeys.check_work_tree(tmp_path / WORK, {"fit"}, _current({}), root=tmp_path)
    assert found.stale == {"a/fit/half.nc": "output without a job record"}
    assert orphan.stat().st_mtime == jobkeys.STALE_MTIME


def test_a_key_that_cannot_be_computed_stops_naming_the_job(tmp_path):
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit_x.csv"], model="x")

    def broken(record):
        raise KeyError("threads")

    with pytest.raises(jobkeys.UnknownJobKey, match=r"fit\[model=x\]: KeyError"):
        jobkeys.check_work_tree(tmp_path / WORK, {"fit"}, broken, root=tmp_path)


def test_records_written_before_keys_were_kept_use_their_params(tmp_path):
    record = _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/fit.csv"])
    old = json.loads(record.read_text())
    del old["job_key"]
    record.write_text(json.dumps(old))
    found = jobkeys.check_work_tree(
        tmp_path / WORK, {"fit"}, _current({"fit": {"seed": 1}}), root=tmp_path
    )
    assert found.stale == {}


def test_a_directory_output_is_marked_through_its_files(tmp_path):
    folder = tmp_path / "code-snapshot"
    (folder / "workflow").mkdir(parents=True)
    for name in (".snakemake_timestamp", "Snakefile", "workflow/x.py"):
        (folder / name).write_text("x")
    marked = jobkeys.mark_stale([folder])
    assert len(marked) == 3
    assert (folder / ".snakemake_timestamp").stat().st_mtime == jobkeys.STALE_MTIME


def test_a_job_this_run_can_no_longer_make_is_neither_keyed_nor_marked(tmp_path):
    """A removed config block's records stay in the work tree; its key cannot be computed."""
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/kept/fit.csv"], model="kept")
    _job(tmp_path, "fit", {"seed": 1}, [f"{WORK}/a/removed/fit.csv"], model="removed")

    def key(record: dict) -> str:
        if record["wildcards"]["model"] == "removed":
            raise KeyError("removed")  # as model_data_block does for a block no longer there
        return job_key({"seed": 2})

    def in_run(record: dict) -> bool:
        return record["wildcards"]["model"] != "removed"

    found = jobkeys.check_work_tree(tmp_path / WORK, {"fit"}, key, root=tmp_path, in_run=in_run)
    assert found.stale == {"fit[model=kept]": "key changed"}
    removed = tmp_path / WORK / "a" / "removed" / "fit.csv"
    assert removed.stat().st_mtime != jobkeys.STALE_MTIME  # claimed by its record, not an orphan
    with pytest.raises(jobkeys.UnknownJobKey, match="fit\\[model=removed\\]"):
        jobkeys.check_work_tree(tmp_path / WORK, {"fit"}, key, root=tmp_path)
