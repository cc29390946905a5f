"""Running Snakemake in the scratch checkout with the recorded package, not the installed one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def snakemake_command() -> list[str]:
    bindir = Path(sys.executable).parent
    if (bindir / "snakemake").exists():
        return [str(bindir / "snakemake")]
    return [sys.executable, "-m", "snakemake"]


def run_workflow(checkout: Path, cores: int, timeout: int | None) -> subprocess.CompletedProcess:
    """Snakemake on ``config/config.yaml`` of ``checkout``; stdout and stderr together."""
    bindir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    # The recorded package, not the one installed (editable) from whichever checkout: PYTHONPATH
    # comes before site-packages for the Snakefile's imports and every script job alike.
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(checkout / "workflow"), env.get("PYTHONPATH")])
    )
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    return subprocess.run(
        [*snakemake_command(), "--cores", str(cores), "--configfile", "config/config.yaml"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
