"""Compile and fit Stan programs through one interface, with CmdStanPy or PyStan behind it.

    engine = get_engine(config["stan"]["engine"])          # auto | cmdstanpy | pystan
    engine.compile(stan_file, stamp_path)                    # once per program (its own rule)
    idata, info = engine.fit(stan_file, data, sampler, stamp_path=stamp_path)

Every Stan program reads an ``int prior_only`` flag in its data; ``fit(prior_only=True)`` sets it
and returns the draws as the ``prior`` / ``prior_predictive`` groups instead.

Draws are converted only with ArviZ's converters (``az.from_cmdstanpy``, ``az.from_pystan``):
the engines order chains and draws differently, and reshaping by hand silently breaks R-hat and
ESS. Approximate methods (pathfinder, advi; CmdStanPy only) return one set of draws without
chains, stored as a single chain; ``info["approximation"]`` carries what judges them (Pareto k of
the importance weights, ADVI's ELBO convergence), see ``diagnostics.approximate_diagnostics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bayespipe import software
from bayespipe.engines.stan import diagnostics as gates
from bayespipe.io import read_json, sha256_file, write_json

logger = logging.getLogger(__name__)

SAMPLER_SCHEMA = (
    Path(__file__).resolve().parents[3] / "schemas" / "sections" / "sampler.schema.yaml"
)
METHODS = ("nuts", "pathfinder", "advi")
STAMP_FORMAT = "bayespipe-stan-compile/1"
# Where CmdStanPy's executables are cached, keyed by program text, options and CmdStan version.
DEFAULT_EXE_CACHE = Path(
    os.environ.get("BAYESPIPE_CMDSTAN_CACHE", "~/.cache/bayespipe/cmdstan")
).expanduser()


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
            f"unknown sampler setting(s) {', '.join(unknown)} (allowed: {', '.join(sorted(settings))})"
        )
    settings.update(sampler or {})
    if settings["method"] not in METHODS:
        raise ValueError(
            f"sampler method must be one of {', '.join(METHODS)}; got {settings['method']!r}"
        )
    return settings


def get_engine(requested: str) -> StanEngine:
    """The engine named by ``stan.engine`` (auto: CmdStanPy when CmdStan resolves, else PyStan)."""
    name = software.resolve_stan_engine(requested)
    if name == "cmdstanpy":
        return CmdStanPyEngine()
    return PyStanEngine()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (created if missing) for the duration of the block."""
    import fcntl

    with open(path, "a") as handle:
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

    # --- shared helpers -------------------------------------------------------------------
    def read_stamp(self, stan_file, stamp_path) -> dict:
        """The compile stamp, checked against the engine and the program text."""
        stamp = read_json(stamp_path)
        if stamp.get("engine") != self.name:
            raise StaleStampError(
                f"{stamp_path}: compiled for engine {stamp.get('engine')!r}, but fitting with {self.name!r}; "
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


def _converter_kwargs(idata_kwargs: dict | None, data: dict, prior_only: bool) -> dict:
    """Map the caller's names (posterior_predictive, log_likelihood, observed_data, coords, dims)
    onto the converter arguments of a posterior or a prior-only run."""
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


# ------------------------------------------------------------------------------------------
# PyStan 3 (httpstan)
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _httpstan_context():
    """Quiet httpstan's per-request access log, and name models after the environment's canonical
    interpreter: httpstan hashes ``sys.executable`` into model names, so ``.venv/bin/python`` and
    ``.venv/bin/python3`` (pytest's and Snakemake's shebang) would otherwise compile twice."""
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    canonical = Path(sys.prefix) / "bin" / "python"
    saved = sys.executable
    if canonical.exists() and Path(saved).resolve() == canonical.resolve():
        sys.executable = str(canonical)
    try:
        yield
    finally:
        sys.executable = saved


class PyStanEngine(StanEngine):
    """PyStan 3: httpstan compiles each program once into its own cache; data are bound at build
    time, so ``fit`` builds (a cache hit after ``compile``) and then samples."""

    name = "pystan"

    def compile(self, stan_file, stamp_path, cpp_options=None, stanc_options=None) -> dict:
        if cpp_options or stanc_options:
            logger.warning(
                "PyStan ignores stan.cpp_options and stan.stanc_options (CmdStanPy only)"
            )
        with _httpstan_context():
            return self._compile(stan_file, stamp_path, cpp_options, stanc_options)

    def _compile(self, stan_file, stamp_path, cpp_options, stanc_options) -> dict:
        import httpstan.models

        code = Path(stan_file).read_text()
        model_name = httpstan.models.calculate_model_name(code)
        clock = time.perf_counter()
        response = asyncio.run(self._build_in_cache(code))
        stamp = self._base_stamp(stan_file, cpp_options, stanc_options)
        stamp.update(
            model_name=model_name,
            httpstan_cache=str(_httpstan_cache_dir()),
            compile_seconds=round(time.perf_counter() - clock, 3),
            stanc_warnings=response.get("stanc_warnings", ""),
        )
        if response.get("name") != model_name:
            raise StanEngineError(
                f"httpstan named the model {response.get('name')!r}, expected {model_name!r}"
            )
        write_json(stamp_path, stamp)
        logger.info(
            "compiled %s with httpstan as %s in %.1f s",
            stan_file,
            model_name,
            stamp["compile_seconds"],
        )
        return stamp

    @staticmethod
    async def _build_in_cache(code: str) -> dict:
        import aiohttp
        import stan.common

        async with stan.common.HttpstanClient() as client:
            # PyStan's client gives up after aiohttp's default 300 s; a first C++ build on a busy
            # machine can take longer, and the compile rule must wait for it.
            await client.session.close()
            client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            response = await client.post("/models", json={"program_code": code})
            body = response.json()
            if response.status != 201:
                raise StanEngineError(
                    f"Stan program failed to compile:\n{body.get('message', body)}"
                )
            return body

    def fit(self, stan_file, data, sampler, *, stamp_path, prior_only=False, idata_kwargs=None):
        settings = sampler_settings(sampler)
        if settings["method"] != "nuts":
            raise StanEngineError(
                f"sampler method {settings['method']!r} needs CmdStanPy (stan.engine: cmdstanpy); "
                "PyStan 3 only samples with NUTS (method: nuts)"
            )
        stamp = self.read_stamp(stan_file, stamp_path)
        with _httpstan_context():
            return self._fit(stan_file, data, settings, stamp, stamp_path, prior_only, idata_kwargs)

    def _fit(self, stan_file, data, settings, stamp, stamp_path, prior_only, idata_kwargs):
        import arviz as az
        import stan

        run_data = self._run_data(data, prior_only)
        conv = _converter_kwargs(idata_kwargs, run_data, prior_only)
        observed = conv.pop("observed")
        draws = settings["prior_draws"] if prior_only else settings["draws"]
        if draws < 1:
            raise ValueError("prior_only run with prior_draws = 0: skip the prior run instead")
        code = Path(stan_file).read_text()
        clock = time.perf_counter()
        model = stan.build(code, data=run_data, random_seed=settings["seed"])
        if model.model_name != stamp.get("model_name"):
            # Same program text, other Python environment: httpstan compiled it again for this one.
            logger.warning(
                "%s names httpstan model %s, this environment built %s",
                stamp_path,
                stamp.get("model_name"),
                model.model_name,
            )
        built = time.perf_counter()
        _limit_pystan_processes(settings["parallel_chains"])
        with _drop_new_cached_fits(model.model_name):
            try:
                fit = model.sample(
                    num_chains=settings["chains"],
                    num_warmup=settings["warmup"],
                    num_samples=draws,
                    delta=settings["adapt_delta"],
                    max_depth=settings["max_treedepth"],
                    refresh=max(1, (settings["warmup"] + draws) // 4),
                )
            except (RuntimeError, ValueError) as exc:
                raise StanEngineError(
                    f"Stan failed to sample {stan_file}:\n{_pystan_message(exc)}"
                ) from exc
        sampled = time.perf_counter()
        if prior_only:
            idata = az.from_pystan(prior=fit, prior_model=model, **conv)
        else:
            idata = az.from_pystan(
                posterior=fit, posterior_model=model, observed_data=observed, **conv
            )
        info = self._info(
            settings,
            stamp,
            prior_only,
            build_seconds=built - clock,
            sampling_seconds=sampled - built,
            conversion_seconds=time.perf_counter() - sampled,
        )
        info["model_name"] = model.model_name
        return idata, info


def _pystan_message(exc: Exception) -> str:
    """Stan's own words from a PyStan error, without httpstan's traceback of its server."""
    text = str(exc)
    text = text.split("`, traceback:")[0]
    text = text.replace("Exception during call to services function: `", "")
    return text.strip().strip("`")


def _httpstan_cache_dir() -> Path:
    import httpstan.cache

    return httpstan.cache.cache_directory()


def _limit_pystan_processes(parallel_chains: int) -> None:
    """httpstan runs chains in a process pool sized to the CPU count; resize it to
    ``parallel_chains`` so a rule uses the threads Snakemake gave it."""
    import concurrent.futures
    import multiprocessing as mp

    import httpstan.services_stub as stub

    workers = max(1, int(parallel_chains))
    if getattr(stub.executor, "_max_workers", None) == workers:
        return
    stub.executor.shutdown(wait=True)
    stub.executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("fork"), initializer=stub.init_worker
    )


class _drop_new_cached_fits:
    """httpstan keeps every seeded fit in its cache; remove the ones this run created so a rerun
    samples again (timings stay honest) and the cache does not grow without bound.

    Fits of one model are serialised across processes (a lock file beside the model): the
    fits created while the block runs are then this process's own, and deleting them cannot
    pull a fit from under another job sampling the same program (parallel calibration batches).
    """

    def __init__(self, model_name: str):
        import httpstan.cache

        model_dir = httpstan.cache.model_directory(model_name)
        self.fits_dir = model_dir / "fits"
        self.lock = _locked(model_dir / ".bayespipe-sampling.lock")

    def _listing(self) -> set[Path]:
        return set(self.fits_dir.glob("*")) if self.fits_dir.is_dir() else set()

    def __enter__(self):
        self.lock.__enter__()
        self.before = self._listing()
        return self

    def __exit__(self, *exc):
        try:
            for path in self._listing() - self.before:
                path.unlink(missing_ok=True)
        finally:
            self.lock.__exit__(*exc)
        return False


# ------------------------------------------------------------------------------------------
# CmdStanPy
# ------------------------------------------------------------------------------------------
class CmdStanPyEngine(StanEngine):
    """CmdStanPy 1.3 with CmdStan: the product's main path.

    The executable is built once into a cache folder keyed by program text, compiler options and
    CmdStan version (so unchanged programs are not rebuilt for every result version); the stamp
    records its path and sha256, and ``fit`` refuses an executable that changed since.
    CmdStan's CSV files go to a temporary folder and are gone once converted.
    """

    name = "cmdstanpy"

    def __init__(self, exe_cache: str | Path | None = None):
        self.exe_cache = Path(exe_cache) if exe_cache else DEFAULT_EXE_CACHE

    def _cmdstanpy(self):
        import cmdstanpy

        return cmdstanpy

    def _require_cmdstan(self) -> dict:
        info = software.cmdstan_info()
        if not info:
            raise StanEngineError(
                "stan.engine is cmdstanpy but CmdStan is not installed (cmdstanpy.cmdstan_path() does not "
                "resolve); install CmdStan or set stan.engine: pystan"
            )
        return info

    def build_folder(self, stan_file, cpp_options, stanc_options) -> Path:
        """The cache folder of one program: its text, the compiler options and the CmdStan (version
        and path) that builds it decide the key, so any of them changing means a new build."""
        cmdstan = software.cmdstan_info() or {}
        key = _options_digest(
            Path(stan_file).read_text(),
            cpp_options or {},
            stanc_options or {},
            cmdstan.get("version"),
            cmdstan.get("path"),
        )[:16]
        return self.exe_cache / f"{Path(stan_file).stem}-{key}"

    def compile(self, stan_file, stamp_path, cpp_options=None, stanc_options=None) -> dict:
        self._require_cmdstan()
        cmdstanpy = self._cmdstanpy()
        stan_file = Path(stan_file)
        folder = self.build_folder(stan_file, cpp_options, stanc_options)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / stan_file.name
        options = _stanc_options(stan_file, stanc_options)
        clock = time.perf_counter()
        # The cache is shared by every run and test on the machine: one build of a folder at a time.
        with _locked(folder / ".compile.lock"):
            # Rewriting an identical copy would make CmdStanPy think the executable is out of date.
            if not source.exists() or source.read_bytes() != stan_file.read_bytes():
                shutil.copyfile(stan_file, source)
            model = cmdstanpy.CmdStanModel(
                stan_file=str(source), stanc_options=options, cpp_options=dict(cpp_options or {})
            )
        exe_file = Path(model.exe_file)
        stamp = self._base_stamp(stan_file, cpp_options, stanc_options)
        stamp.update(
            exe_file=str(exe_file),
            exe_sha256=sha256_file(exe_file),
            build_folder=str(folder),
            compile_seconds=round(time.perf_counter() - clock, 3),
        )
        write_json(stamp_path, stamp)
        logger.info("compiled %s to %s in %.1f s", stan_file, exe_file, stamp["compile_seconds"])
        return stamp

    def _model(self, stan_file, stamp: dict, stamp_path):
        exe_file = Path(stamp.get("exe_file") or "")
        if not exe_file.is_file():
            raise StaleStampError(
                f"{stamp_path}: executable {exe_file} is gone; rerun the compile rule"
            )
        if sha256_file(exe_file) != stamp.get("exe_sha256"):
            raise StaleStampError(
                f"{stamp_path}: executable {exe_file} changed since compiling; rerun the compile rule"
            )
        source = Path(stamp.get("build_folder", exe_file.parent)) / Path(stan_file).name
        # The same stanc options as at compile time: CmdStanPy may run stanc on the source for its info.
        options = _stanc_options(stan_file, stamp.get("stanc_options"))
        return self._cmdstanpy().CmdStanModel(
            stan_file=str(source), exe_file=str(exe_file), stanc_options=options
        )

    def sample_arguments(
        self, settings: dict, data: dict, output_dir: str, prior_only: bool
    ) -> dict:
        """Keyword arguments of ``CmdStanModel.sample`` for one sampler section."""
        draws = settings["prior_draws"] if prior_only else settings["draws"]
        return {
            "data": data,
            "chains": settings["chains"],
            "parallel_chains": min(settings["parallel_chains"], settings["chains"]),
            "iter_warmup": settings["warmup"],
            "iter_sampling": draws,
            "seed": settings["seed"],
            "adapt_delta": settings["adapt_delta"],
            "max_treedepth": settings["max_treedepth"],
            "output_dir": output_dir,
            "show_progress": False,
            "show_console": True,  # Stan's own messages into the rule log
            "refresh": max(1, (settings["warmup"] + draws) // 4),
        }

    def pathfinder_arguments(
        self, settings: dict, data: dict, output_dir: str, threads: bool
    ) -> dict:
        """Every path's draws, unresampled, with lp__ and lp_approx__: the engine computes Pareto k
        and does the importance resampling itself (see ``_pathfinder_draws``)."""
        args = {
            "data": data,
            "num_paths": settings["chains"],
            "num_single_draws": settings["draws"],
            "psis_resample": False,
            "calculate_lp": True,
            "seed": settings["seed"],
            "output_dir": output_dir,
            "show_console": True,
        }
        if threads:  # CmdStan refuses num_threads from an executable built without STAN_THREADS
            args["num_threads"] = min(settings["parallel_chains"], settings["chains"])
        return args

    def variational_arguments(self, settings: dict, data: dict, output_dir: str) -> dict:
        return {
            "data": data,
            "draws": settings["draws"],
            "seed": settings["seed"],
            "output_dir": output_dir,
            "show_console": True,
            "require_converged": False,  # the ELBO gate decides, as diagnostics.on_fail says
        }

    def fit(self, stan_file, data, sampler, *, stamp_path, prior_only=False, idata_kwargs=None):
        settings = sampler_settings(sampler)
        if prior_only and settings["method"] != "nuts":
            settings = {**settings, "method": "nuts"}  # prior draws are always exact NUTS draws
        stamp = self.read_stamp(stan_file, stamp_path)
        import arviz as az

        model = self._model(stan_file, stamp, stamp_path)
        run_data = self._run_data(data, prior_only)
        conv = _converter_kwargs(idata_kwargs, run_data, prior_only)
        observed = conv.pop("observed")
        approximation = None
        threads = settings["method"] == "pathfinder" and _has_threads(model)
        clock = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bayespipe-cmdstan-") as output_dir:
            try:
                fit = self._run_method(model, settings, run_data, output_dir, prior_only, threads)
            except RuntimeError as exc:
                raise StanEngineError(f"CmdStan failed for {stan_file}:\n{exc}") from exc
            sampled = time.perf_counter()
            # Convert while the CSV files still exist: CmdStanPy reads them lazily.
            if settings["method"] != "nuts":
                variables, stats, approximation = _approximate_draws(fit, settings)
                approximation["threads"] = threads
                idata = _approximate_idata(az, variables, stats, observed, run_data, conv)
            elif prior_only:
                idata = az.from_cmdstanpy(prior=fit, **conv)
            else:
                obs = {name: run_data[name] for name in observed} if observed else None
                idata = az.from_cmdstanpy(posterior=fit, observed_data=obs, **conv)
        info = self._info(
            settings,
            stamp,
            prior_only,
            sampling_seconds=sampled - clock,
            conversion_seconds=time.perf_counter() - sampled,
        )
        info["exe_file"] = stamp.get("exe_file")
        if approximation is not None:
            info["approximation"] = approximation
        return idata, info

    def _run_method(self, model, settings, data, output_dir, prior_only, threads):
        method = settings["method"]
        if method == "nuts":
            return model.sample(**self.sample_arguments(settings, data, output_dir, prior_only))
        if method == "pathfinder":
            arguments = self.pathfinder_arguments(settings, data, output_dir, threads)
            return model.pathfinder(**arguments)
        return model.variational(**self.variational_arguments(settings, data, output_dir))


def _stanc_options(stan_file, stanc_options: dict | None) -> dict:
    """The configured stanc options plus the program's own folder as an include path (the build
    runs on a copy in the cache). Not stored in the stamp: the absolute path differs per checkout,
    and ``bayespipe reproduce`` compares stamps."""
    options = copy.deepcopy(dict(stanc_options or {}))
    includes = options.get("include-paths", [])
    options["include-paths"] = [
        *([includes] if isinstance(includes, str) else includes),
        str(Path(stan_file).resolve().parent),
    ]
    return options


def _has_threads(model) -> bool:
    """Whether the executable was built with STAN_THREADS (CmdStan's own ``info`` says so)."""
    return str(model.exe_info().get("STAN_THREADS", "false")).lower() == "true"


def _approximate_draws(fit, settings: dict) -> tuple[dict, dict, dict]:
    """Draws of a pathfinder or ADVI fit as ``{name: (draw, ...)}``, their per-draw statistics,
    and what ``diagnostics`` needs to judge the approximation (Pareto k, ELBO convergence)."""
    if settings["method"] == "pathfinder":
        return _pathfinder_draws(fit, settings)
    return _advi_draws(fit)


def _pathfinder_draws(fit, settings: dict):
    """Pareto-smoothed importance resampling of every path's draws, as CmdStan's own
    ``psis_resample`` does, but keeping the Pareto k that says whether it could be trusted."""
    import numpy as np

    method = fit.method_variables()
    log_weights = np.asarray(method["lp__"]) - np.asarray(method["lp_approx__"])
    weights, pareto_k = gates.psis_weights(log_weights)
    rng = np.random.default_rng(settings["seed"])
    pick = rng.choice(len(weights), size=settings["draws"], replace=True, p=weights)
    variables = {name: np.asarray(values)[pick] for name, values in fit.stan_variables().items()}
    stats = {"lp": method["lp__"][pick], "lp_approx": method["lp_approx__"][pick]}
    approximation = {
        "method": "pathfinder",
        "paths": settings["chains"],
        "pooled_draws": int(len(weights)),
        "resampled_draws": settings["draws"],
        "pareto_k": pareto_k,
    }
    return variables, stats, approximation


def _advi_draws(fit):
    """ADVI's draws (not its mean), with Pareto k of log p - log g over them (Yao et al. 2018)
    and the ELBO trace CmdStan printed."""
    import numpy as np

    draws = fit.stan_variables(mean=False)  # the default (mean=None) would give the means
    variables = {name: np.asarray(values) for name, values in draws.items()}
    sample = fit.variational_sample
    columns = list(fit.column_names)
    log_p, log_g = sample[:, columns.index("log_p__")], sample[:, columns.index("log_g__")]
    _, pareto_k = gates.psis_weights(log_p - log_g)
    console = Path(fit.runset.stdout_files[0]).read_text()
    approximation = {
        "method": "advi",
        "draws": int(len(log_p)),
        "pareto_k": pareto_k,
        "elbo": gates.elbo_trace(console),
    }
    return variables, {"log_p": log_p, "log_g": log_g}, approximation


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _approximate_idata(az, variables: dict, stats: dict, observed, data: dict, conv: dict):
    """Pathfinder / ADVI draws have no chains: store them as one chain through ``az.from_dict``."""
    predictive = _names(conv.get("posterior_predictive"))
    log_lik = _names(conv.get("log_likelihood") or None)
    one_chain = {k: v[None, ...] for k, v in variables.items()}
    groups = {
        "posterior": {k: v for k, v in one_chain.items() if k not in predictive + log_lik},
        "sample_stats": {k: v[None, ...] for k, v in stats.items()},
    }
    if predictive:
        groups["posterior_predictive"] = {k: one_chain[k] for k in predictive}
    if log_lik:
        groups["log_likelihood"] = {k: one_chain[k] for k in log_lik}
    if observed:
        groups["observed_data"] = {name: data[name] for name in observed}
    return az.from_dict(**groups, coords=conv.get("coords"), dims=conv.get("dims"))
