"""Software versions and the Stan engine available, read without importing heavy packages."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
from functools import lru_cache
from pathlib import Path

# Distributions whose versions go into the version id and the manifest.
TRACKED_PACKAGES = (
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "cmdstanpy",
    "pystan",
    "httpstan",
    "tensorflow",
    "tensorflow-probability",
    "tf-keras",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "polars",  # parses CmdStan's CSV draws (CmdStanPy uses it when installed)
    "arviz",
    "xarray",
    "matplotlib",
    "scikit-learn",
    "mlxtend",
)

ENGINES = ("cmdstanpy", "pystan")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def httpstan_stan_version() -> str | None:
    """The Stan version compiled into httpstan (PyStan's backend), read from its headers."""
    spec = importlib.util.find_spec("httpstan")
    if spec is None or not spec.origin:
        return None
    header = Path(spec.origin).parent / "include" / "stan" / "version.hpp"
    if not header.exists():
        return None
    text = header.read_text()
    parts = [re.search(rf"#define STAN_{p} (\d+)", text) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(m.group(1) for m in parts if m)


@lru_cache(maxsize=1)
def cmdstan_info() -> dict | None:
    """Path and version of the CmdStan that CmdStanPy resolves, or None when there is none."""
    try:
        import cmdstanpy
    except ImportError:
        return None
    try:
        path = cmdstanpy.cmdstan_path()
    except (ValueError, RuntimeError, OSError):
        return None
    try:
        version = cmdstanpy.cmdstan_version()
    except (ValueError, RuntimeError, OSError):
        version = None
    return {"path": str(path), "version": ".".join(map(str, version)) if version else None}


def resolve_stan_engine(requested: str) -> str:
    """'auto' picks CmdStanPy when CmdStan resolves, else PyStan; an explicit choice is checked."""
    if requested not in ("auto", *ENGINES):
        raise ValueError(f"stan.engine must be one of auto, cmdstanpy, pystan; got {requested!r}")
    if requested == "auto":
        return "cmdstanpy" if cmdstan_info() else "pystan"
    return requested


def stan_engine_info(engine: str) -> dict:
    """What identifies the numerical engine: its name and the Stan or CmdStan version behind it."""
    if engine == "cmdstanpy":
        info = cmdstan_info() or {}
        return {
            "engine": "cmdstanpy",
            "cmdstanpy": package_version("cmdstanpy"),
            "cmdstan": info.get("version"),
        }
    return {
        "engine": "pystan",
        "pystan": package_version("pystan"),
        "httpstan": package_version("httpstan"),
        "stan": httpstan_stan_version(),
    }


def software_versions() -> dict:
    versions = {"python": platform.python_version()}
    versions.update({name: package_version(name) for name in TRACKED_PACKAGES})
    cmdstan = cmdstan_info()
    versions["cmdstan"] = cmdstan["version"] if cmdstan else None
    versions["stan (httpstan)"] = httpstan_stan_version()
    return versions
