"""The CmdStanPy engine (CmdStan): the product's main path, with Pathfinder and ADVI."""

import contextlib
import copy
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bayespipe import software
from bayespipe.engines.stan import diagnostics as gates
from bayespipe.engines.stan.base import (
    StaleStampError,
    StanEngine,
    StanEngineError,
    _converter_kwargs,
    _locked,
    _options_digest,
    sampler_settings,
    stan_positions,
)
from bayespipe.engines.stan.draws import stan_columns_to_array, stan_csv_columns
from bayespipe.engines.stan.program import program_info
from bayespipe.io import sha256_file, write_json

logger = logging.getLogger(__name__)

# Where CmdStanPy's executables are cached, keyed by program text, options and CmdStan version.
DEFAULT_EXE_CACHE = Path(
    os.environ.get("BAYESPIPE_CMDSTAN_CACHE", "~/.cache/bayespipe/cmdstan")
).expanduser()

# What CmdStanPy's show_console prints for an empty line of Stan's output (one or more chains'
# prefixes, when parallel chains interleave).
_EMPTY_CONSOLE_LINE = re.compile(r"(?:Chain \[\d+\]\s*)+|\s*")


class _ConsoleFilter(io.TextIOBase):
    """Stands in for sys.stdout while CmdStan runs.

    CmdStanPy echoes Stan's messages into the rule log (show_console), and between the end of Stan's
    output and the process's exit it echoes one empty "Chain [k]" line per poll, over a thousand per
    fit. Those are dropped.
    """

    def __init__(self, target):
        self.target = target
        self.pending = ""
        self.lock = threading.Lock()  # chains run in threads and print concurrently

    def write(self, text: str) -> int:
        with self.lock:
            *lines, self.pending = (self.pending + text).split("\n")
            for line in lines:
                if not _EMPTY_CONSOLE_LINE.fullmatch(line):
                    self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        with self.lock:
            if self.pending and not _EMPTY_CONSOLE_LINE.fullmatch(self.pending):
                self.target.write(self.pending)
            self.pending = ""
        self.target.flush()


@contextlib.contextmanager
def _console_without_empty_lines():
    console = _ConsoleFilter(sys.stdout)
    try:
        with contextlib.redirect_stdout(console):
            yield
    finally:
        console.flush()


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
                "stan.engine is cmdstanpy but CmdStan is not installed "
                "(cmdstanpy.cmdstan_path() does not "
                "resolve); install CmdStan or set stan.engine: pystan"
            )
        return info

    def build_folder(self, stan_file, cpp_options, stanc_options) -> Path:
        """The cache folder of one program.

        Its text, the compiler options and the CmdStan (version and path) that builds it decide the
        key, so any of them changing means a new build.
        """
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
                f"{stamp_path}: executable {exe_file} changed since compiling; "
                "rerun the compile rule"
            )
        source = Path(stamp.get("build_folder", exe_file.parent)) / Path(stan_file).name
        # The same stanc options as at compile time: CmdStanPy may run stanc on the source for its
        # info.
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
        """Every path's draws, unresampled, with lp__ and lp_approx__.

        The engine computes Pareto k and does the importance resampling itself (see
        ``_pathfinder_draws``).
        """
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
                with _console_without_empty_lines():
                    fit = self._run_method(
                        model, settings, run_data, output_dir, prior_only, threads
                    )
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
        stan_positions(idata, idata_kwargs)
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

    def generate_quantities(self, stan_file, data, draws, *, stamp_path, seed):
        """CmdStan's standalone generated quantities from a CSV of the given draws."""
        import numpy as np
        import pandas as pd
        from cmdstanpy import write_stan_json

        stamp = self.read_stamp(stan_file, stamp_path)
        exe = self._model(stan_file, stamp, stamp_path).exe_file
        names, columns = stan_csv_columns(draws)
        chains, n_draws = next(iter(draws.values())).shape[:2]
        with tempfile.TemporaryDirectory(prefix="bayespipe-gq-") as folder:
            fitted, data_file, output = (
                Path(folder) / name for name in ("fit.csv", "data.json", "gq.csv")
            )
            pd.DataFrame(np.column_stack(columns), columns=names).to_csv(fitted, index=False)
            write_stan_json(str(data_file), self._run_data(data, False))
            command = [
                str(exe),
                "generate_quantities",
                f"fitted_params={fitted}",
                "data",
                f"file={data_file}",
                "output",
                f"file={output}",
                "sig_figs=18",
                "random",
                f"seed={seed}",
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise StanEngineError(
                    f"CmdStan's generate_quantities failed for {stan_file}:\n"
                    f"{(result.stdout + result.stderr).strip()[-2000:]}"
                )
            table = pd.read_csv(output, comment="#")
        generated = program_info(stan_file).generated
        return (
            {name: stan_columns_to_array(table, name, chains, n_draws) for name in generated},
            {"rng": True},
        )

    def _run_method(self, model, settings, data, output_dir, prior_only, threads):
        method = settings["method"]
        if method == "nuts":
            return model.sample(**self.sample_arguments(settings, data, output_dir, prior_only))
        if method == "pathfinder":
            arguments = self.pathfinder_arguments(settings, data, output_dir, threads)
            return model.pathfinder(**arguments)
        return model.variational(**self.variational_arguments(settings, data, output_dir))


def _stanc_options(stan_file, stanc_options: dict | None) -> dict:
    """The configured stanc options plus the program's own folder as an include path.

    The configured stanc options plus the program's own folder as an include path (the build runs on
    a copy in the cache). Not stored in the stamp: the absolute path differs per checkout, and
    ``bayespipe reproduce`` compares stamps.
    """
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
    """Draws of a pathfinder or ADVI fit as ``{name.

    (draw, ...)}``, their per-draw statistics, and what ``diagnostics`` needs to judge the
    approximation (Pareto k, ELBO convergence).
    """
    if settings["method"] == "pathfinder":
        return _pathfinder_draws(fit, settings)
    return _advi_draws(fit)


def _pathfinder_draws(fit, settings: dict):
    """Pareto-smoothed importance resampling of every path's draws, keeping Pareto k.

    Pareto-smoothed importance resampling of every path's draws, as CmdStan's own ``psis_resample``
    does, but keeping the Pareto k that says whether it could be trusted.
    """
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
    """ADVI's draws with Pareto k of log p - log g, and its ELBO trace.

    ADVI's draws (not its mean), with Pareto k of log p - log g over them (Yao et al. 2018) and the
    ELBO trace CmdStan printed.
    """
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
