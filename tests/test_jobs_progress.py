"""A long job says it is alive on the console: one short line per interval from its log."""

from __future__ import annotations

import os
import time

from bayespipe import jobs


def test_progress_prints_the_last_log_line_cut_short(tmp_path):
    log = tmp_path / "zillow_fit_x.log"
    log.write_text("first\n" + "sampling " + "x" * 3000 + "\n\n")
    read_end, write_end = os.pipe()
    with jobs._progress("zillow_fit_x", log, write_end, every=0.05):
        time.sleep(0.3)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        lines = pipe.read().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("bayespipe: zillow_fit_x running, ") for line in lines)
    assert all("s: sampling xxx" in line for line in lines)
    assert max(map(len, lines)) < jobs.PROGRESS_CHARS + 60


def test_no_progress_line_for_a_short_job(tmp_path):
    read_end, write_end = os.pipe()
    with jobs._progress("quick", tmp_path / "none.log", write_end, every=5):
        pass
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        assert pipe.read() == ""


def test_last_line_of_a_missing_log_is_empty(tmp_path):
    assert jobs._last_line(tmp_path / "missing.log") == ""
