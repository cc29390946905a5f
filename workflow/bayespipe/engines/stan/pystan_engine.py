"""The PyStan 3 engine (httpstan): the same `.stan` files with Stan's NUTS, pip-only."""

import asyncio
import contextlib
import logging
import sys
import time
from pathlib import Path

from bayespipe.engines.stan.base import (
    StanEngine,
    StanEngineError,
    _converter_kwargs,
    _locked,
    sampler_settings,
    stan_positions,
)
from bayespipe.engines.stan.draws import flat_names, stan_columns_to_array
from bayespipe.engines.stan.program import program_info
from bayespipe.io import write_json

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------
# PyStan 3 (httpstan)
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _httpstan_context():
    """Quiet httpstan's access log and name models after the canonical interpreter.

    Quiet httpstan's per-request access log, and name models after the environment's canonical
    interpreter: httpstan hashes ``sys.executable`` into model names, so ``.venv/bin/python`` and
    ``.venv/bin/python3`` (pytest's and Snakemake's shebang) would otherwise compile twice.
    """
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
    """PyStan 3: httpstan compiles each program once into its own cache.

    Data are bound at build time, so ``fit`` builds (a cache hit after ``compile``) and then
    samples.
    """

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
        stan_positions(idata, idata_kwargs)
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

    def generate_quantities(self, stan_file, data, draws, *, stamp_path, seed):
        """Run httpstan's write_array at every draw, in-process.

        Its random numbers restart from one fixed seed at each call, so replicates are not fresh
        per draw (``rng: False``).
        """
        import httpstan.models
        import numpy as np

        stamp = self.read_stamp(stan_file, stamp_path)
        run_data = {k: np.asarray(v).tolist() for k, v in self._run_data(data, False).items()}
        with _httpstan_context():
            services = httpstan.models.import_services_extension_module(stamp["model_name"])
        info = program_info(stan_file)
        chains, n_draws = next(iter(draws.values())).shape[:2]
        rows = []
        try:
            for chain in range(chains):
                for draw in range(n_draws):
                    point = {n: np.asarray(draws[n][chain, draw]).tolist() for n in draws}
                    free = services.transform_inits(run_data, point)
                    rows.append(services.write_array(run_data, free, True, True))
        except RuntimeError as exc:
            raise StanEngineError(f"Stan rejects the data of {stan_file}:\n{exc}") from exc
        table = _constrained_table(np.asarray(rows), services, run_data)
        return (
            {n: stan_columns_to_array(table, n, chains, n_draws) for n in info.generated},
            {"rng": False},
        )


def _constrained_table(rows, services, data):
    """Columns of write_array's output named as in a Stan CSV: parameters, then the rest."""
    import pandas as pd

    names = list(services.get_param_names(data))
    dims = services.get_dims(data)
    columns = []
    for name, shape in zip(names, dims, strict=True):
        columns += flat_names(name, shape)
    return pd.DataFrame(rows, columns=columns)


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
    """httpstan runs chains in a process pool sized to the CPU count.

    Resize it to ``parallel_chains`` so a rule uses the threads Snakemake gave it.
    """
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
    """httpstan keeps every seeded fit in its cache.

    Remove the ones this run created so a rerun samples again (timings stay honest) and the cache
    does not grow without bound.

    Fits of one model are serialised across processes (a lock file beside the model): the
    fits created while the block runs are then this process's own, and deleting them cannot
    pull a fit from under another job sampling the same program (parallel calibration batches).
    The price: on PyStan, parallel jobs of one program sample one at a time (different programs
    still run in parallel); CmdStan has no such lock.
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
