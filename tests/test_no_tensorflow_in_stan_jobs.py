"""Jobs that run no TensorFlow do not import it (seconds of start-up and memory per job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"

# What the Stan-side and figure-only scripts import (workflow/scripts/*.py), plus the engines.
MODULES = [
    "bayespipe.analyses.zillow.fit",
    "bayespipe.analyses.zillow.shrinkage",
    "bayespipe.analyses.zillow.heldout",
    "bayespipe.analyses.zillow.network",  # zillow_network_residuals draws a figure only
    "bayespipe.analyses.tadpoles.model",
    "bayespipe.analyses.calibration.batch",
    "bayespipe.analyses.calibration.verdict",
    "bayespipe.engines.stan.engine",
    "bayespipe.engines.stan.cmdstanpy_engine",
    "bayespipe.engines.stan.pystan_engine",
    "bayespipe.engines.stan.outputs",
    "bayespipe.report.html",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_tensorflow(module):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_probability', 'tf_keras', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(WORKFLOW), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()}"
