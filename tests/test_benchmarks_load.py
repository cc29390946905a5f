"""benchmarks/_load.py: benchmarks record the load and cores, and say when not comparable."""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import _load  # noqa: E402
import pipeline  # noqa: E402


@pytest.fixture
def machine(monkeypatch):
    """Two cores, and the load averages the test sets (one reading per call)."""
    readings = []
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: readings.pop(0))
    return readings


def test_a_busy_start_warns_at_once_and_marks_the_figures(machine, capsys):
    machine += [(5.79, 3.85, 1.951), (6.98, 4.48, 2.25)]
    watch = _load.LoadWatch()
    assert "NOT comparable" in capsys.readouterr().err  # before any timing is taken
    record = watch.finish()
    assert record == {
        "cores": 2,
        "load_before": [5.79, 3.85, 1.95],
        "load_after": [6.98, 4.48, 2.25],
        "comparable": False,
        "warning": watch.warning,
    }
    assert json.loads(json.dumps(record)) == record  # JSON as it is
    watch.report()
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "load average (1, 5, 15 min) before 5.79 3.85 1.95, after 6.98 4.48 2.25; 2 cores"
    )
    assert "above the 2 cores" in lines[1] and "NOT comparable" in lines[1]


def test_a_quiet_start_is_comparable_and_says_nothing_more(machine, capsys):
    machine += [(1.2, 0.9, 0.5), (2.5, 1.1, 0.6)]  # the benchmark's own load may raise it
    watch = _load.LoadWatch()
    record = watch.finish()
    assert record["comparable"] is True and record["warning"] is None
    assert capsys.readouterr().err == ""
    assert _load.describe(record) == [
        "load average (1, 5, 15 min) before 1.20 0.90 0.50, after 2.50 1.10 0.60; 2 cores"
    ]


def test_the_threshold_is_the_core_count():
    assert _load.busy_warning(2.0, 2) is None
    assert _load.busy_warning(2.01, 2) is not None
    assert _load.busy_warning(3.5, 4) is None


def test_pipeline_utilisation_is_cpu_over_wall_times_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert pipeline.used_cores("all") == 2 and pipeline.used_cores("4") == 2
    assert pipeline.used_cores("1") == 1
    assert pipeline.utilisation(148.1, 158.3, 2) == 0.468  # issue 30's serial run
    assert pipeline.utilisation(None, 10.0, 2) is None
    totals = {
        "run_seconds": 90.0,
        "used_cores": 2,
        "utilisation": 0.85,
        "run_cpu_seconds": 153.0,
        "jobs_utilisation": 0.8,
        "cpu": 144.0,
    }
    line = pipeline.utilisation_line(totals)
    assert line.startswith("utilisation = CPU-s / (90.0 s wall x 2 cores): 85% (153.0 CPU-s)")
    assert "80% (144.0 CPU-s) the jobs' cpu_time" in line


def test_every_benchmark_records_the_load():
    scripts = [
        path for path in sorted((REPO / "benchmarks").glob("*.py")) if path.name != "_load.py"
    ]
    assert len(scripts) >= 10
    missing = [path.name for path in scripts if "LoadWatch" not in path.read_text()]
    assert missing == [], f"benchmarks that do not record the load: {missing}"
