"""The interface every Stan engine implements, and what the engines share.

Sampler settings (defaults from the schema), the compile stamp, locks, and the mapping onto ArviZ's
converters.

Every Stan program reads an ``int prior_only`` flag in its data; ``fit(prior_only=True)`` sets it
and returns the draws as the ``prior`` / ``prior_predictive`` groups instead.

Draws are converted only with ArviZ's converters (``az.from_cmdstanpy``, ``az.from_pystan``):
the engines order chains and draws differently, and reshaping by hand silently breaks R-hat and
ESS. The converters number unnamed dimensions from 0; ``stan_positions`` renumbers them from 1,
as Stan does (``theta[1]`` is the first element). Approximate methods (pathfinder, advi;
CmdStanPy only) return one set of draws without chains, stored as a single chain;
``info["approximation"]`` carries what judges them (Pareto k of the importance weights, ADVI's
ELBO convergence), see ``diagnostics.approximate_diagnostics``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bayespipe import software
from bayespipe.io import read_json, sha256_file

logger = logging.getLogger(__name__)

SAMPLER_SCHEMA = (
    Path(__file__).resolve().parents[3] / "schemas" / "sections" / "sampler.schema.yaml"
)
METHODS = ("nuts", "pathfinder", "advi")
STAMP_FORMAT = "bayespipe-stan-compile/1"
# Fields of the compile stamp that change from run to run or between environments (the build
# folder is in the user's cache; httpstan's model name hashes the Python executable's path);
# bayespipe.audit.volatile reads them.
VOLATILE_FIELDS = {
    "compile_stamp": (
        "compile_seconds",
        "compiled_at",
        "build_folder",
        "exe_file",
        "model_name",
        "httpstan_cache",
    )
}


class StanEngineError(RuntimeError):
    """A Stan program failed to compile or to sample (the message carries Stan's own words)."""


class StaleStampError(RuntimeError):
    """The compile stamp does not describe the program (or executable) about to be fitted."""


@lru_cache(maxsize=1)
def sampler_defaults() -> dict:
    """Defaults of one sampler section, read from its schema (the single source of truth)."""
    schema = yaml.safe_load(SAMPLER_SCHEMA.read_text())
    return {key: spec["default"] for key, spec in schema["properties"].items()}


def sampler_settings(sampler: dict | None) -> dict:
    """A sampler section with every missing key set to its default; unknown keys are errors."""
    settings = dict(sampler_defaults())
    unknown = sorted(set(sampler or {}) - set(settings))
    if unknown:
        raise ValueError(
            f"unknown sampler setting(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(settings))})"
        )
    settings.update(sampler or {})
    if settings["method"] not in METHODS:
        raise ValueError(
            f"sampler method must be one of {', '.join(METHODS)}; got {settings['method']!r}"
        )
    return settings


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (created if missing) for the duration of the block."""
    import fcntl

    with Path(path).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _options_digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class StanEngine(ABC):
    """One way of compiling and sampling Stan programs."""

    name: str = ""

    def versions(self) -> dict:
        return software.stan_engine_info(self.name)

    @abstractmethod
    def compile(
        self,
        stan_file,
        stamp_path,
        cpp_options: dict | None = None,
        stanc_options: dict | None = None,
    ) -> dict:
        """Compile ``stan_file`` once and write the JSON compile stamp to ``stamp_path``."""

    @abstractmethod
    def fit(
        self,
        stan_file,
        data: dict,
        sampler: dict | None,
        *,
        stamp_path,
        prior_only: bool = False,
        idata_kwargs: dict | None = None,
    ):
        """Sample (or approximate) the program; returns ``(arviz.InferenceData, info)``."""

    @abstractmethod
    def generate_quantities(
        self, stan_file, data: dict, draws: dict, *, stamp_path, seed: int
    ) -> tuple[dict, dict]:
        """Compute the generated quantities of ``data`` at each posterior draw (standalone GQ).

        ``draws`` maps every parameter to an array (chain, draw, *shape); returns the generated
        quantities the same way, and an info dict (``rng``: whether replicates got fresh random
        numbers per draw).
        """

    def fit_with_prior(
        self, stan_file, data: dict, sampler: dict, *, stamp_path, idata_kwargs=None, prior=True
    ):
        """Run the posterior, then (unless ``prior`` is false or prior_draws is 0) the prior-only.

        Returns ``(idata, info, prior_idata or None)``; the two runs share data and settings, so
        the prior predictive run checks the very model that was fitted.
        """
        idata, info = self.fit(
            stan_file, data, sampler, stamp_path=stamp_path, idata_kwargs=idata_kwargs
        )
        if not prior or (sampler or {}).get("prior_draws", 1) <= 0:
            return idata, info, None
        prior_idata, _ = self.fit(
            stan_file,
            data,
            sampler,
            stamp_path=stamp_path,
            prior_only=True,
            idata_kwargs=idata_kwargs,
        )
        return idata, info, prior_idata

    # --- shared helpers -------------------------------------------------------------------
    def read_stamp(self, stan_file, stamp_path) -> dict:
        """The compile stamp, checked against the engine and the program text."""
        stamp = read_json(stamp_path)
        if stamp.get("engine") != self.name:
            raise StaleStampError(
                f"{stamp_path}: compiled for engine {stamp.get('engine')!r}, "
                f"but fitting with {self.name!r}; "
                "rerun the compile rule"
            )
        current = sha256_file(stan_file)
        if stamp.get("stan_sha256") != current:
            raise StaleStampError(
                f"{stamp_path}: {stan_file} changed since it was compiled; rerun the compile rule"
            )
        return stamp

    def _base_stamp(self, stan_file, cpp_options, stanc_options) -> dict:
        return {
            "format": STAMP_FORMAT,
            "engine": self.name,
            "versions": self.versions(),
            "stan_file": str(stan_file),
            "stan_sha256": sha256_file(stan_file),
            "cpp_options": dict(cpp_options or {}),
            "stanc_options": dict(stanc_options or {}),
            "compiled_at": _now(),
        }

    def _run_data(self, data: dict, prior_only: bool) -> dict:
        run_data = dict(data)
        run_data["prior_only"] = int(bool(prior_only))
        return run_data

    def _info(self, settings: dict, stamp: dict, prior_only: bool, **timings) -> dict:
        return {
            "engine": self.name,
            "versions": self.versions(),
            "method": settings["method"],
            "sampler": settings,
            "prior_only": prior_only,
            "compile_stamp": {
                k: stamp.get(k)
                for k in (
                    "stan_sha256",
                    "model_name",
                    "exe_file",
                    "exe_sha256",
                    "cpp_options",
                    "stanc_options",
                )
            },
            **{k: round(v, 4) for k, v in timings.items()},
        }


def stan_positions(idata, idata_kwargs: dict | None = None):
    """Number every positional dimension of ``idata`` as Stan does, 1..n; returns ``idata``.

    ArviZ's converters give a dimension whose coordinates the caller did not pass (its default
    ``<var>_dim_<k>``, or a name from ``dims`` alone) the coordinates 0..n-1, so summaries, figure
    titles and report rows would call Stan's ``theta[1]`` ``theta[0]``. Every such dimension gets
    1..n, in every group (posterior, prior, predictive, log-likelihood, observed data); the
    coordinates the caller passed in ``coords`` (zip codes, tank numbers) are kept. Code that picks
    an element by position uses ``.isel`` (or ``.values``), never ``.sel`` with a 0-based number.
    """
    import numpy as np

    given = set((idata_kwargs or {}).get("coords") or {})

    def one_based(dataset):
        new = {}
        for dim, size in dataset.sizes.items():
            if dim in ("chain", "draw") or dim in given or dim not in dataset.coords:
                continue
            values = dataset[dim].values
            if values.dtype.kind in "iu" and np.array_equal(values, np.arange(size)):
                new[dim] = np.arange(1, size + 1)
        return dataset.assign_coords(new) if new else dataset

    idata.map(one_based, inplace=True)
    return idata


def _converter_kwargs(idata_kwargs: dict | None, data: dict, prior_only: bool) -> dict:
    """Map the caller's names onto the converter arguments of a posterior or prior-only run.

    Map the caller's names (posterior_predictive, log_likelihood, observed_data, coords, dims) onto
    the converter arguments of a posterior or a prior-only run.
    """
    kwargs = dict(idata_kwargs or {})
    unknown = set(kwargs) - {
        "posterior_predictive",
        "log_likelihood",
        "observed_data",
        "coords",
        "dims",
    }
    if unknown:
        raise ValueError(f"unsupported idata_kwargs {sorted(unknown)}")
    observed = kwargs.pop("observed_data", None)
    if prior_only:
        predictive = kwargs.pop("posterior_predictive", None)
        kwargs.pop("log_likelihood", None)
        if predictive:
            kwargs["prior_predictive"] = predictive
        return {"observed": None, **kwargs}
    kwargs.setdefault("log_likelihood", False)
    if observed:
        names = [observed] if isinstance(observed, str) else list(observed)
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"observed_data names {missing} are not in the Stan data")
        return {"observed": names, **kwargs}
    return {"observed": None, **kwargs}
