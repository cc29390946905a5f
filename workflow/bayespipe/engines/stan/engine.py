"""Compile and fit Stan programs through one interface, with CmdStanPy or PyStan behind it.

    engine = get_engine(config["stan"]["engine"])          # auto | cmdstanpy | pystan
    engine.compile(stan_file, stamp_path)                    # once per program (its own rule)
    idata, info = engine.fit(stan_file, data, sampler, stamp_path=stamp_path)

The interface is ``base.StanEngine``; this module only picks the implementation. It imports the
chosen engine's module by name, so a job's code key (``bayespipe.codedeps``) holds the engine
that job runs (``ENGINE_MODULES``, passed to ``codedeps.job_code`` by ``common.smk``) and not the
other one.
"""

from __future__ import annotations

import importlib

from bayespipe import software
from bayespipe.engines.stan.base import (
    VOLATILE_FIELDS,
    StaleStampError,
    StanEngine,
    StanEngineError,
    sampler_defaults,
    sampler_settings,
)

# engine name -> (module, class): imported on first use, one engine per job.
ENGINE_MODULES = {
    "cmdstanpy": ("bayespipe.engines.stan.cmdstanpy_engine", "CmdStanPyEngine"),
    "pystan": ("bayespipe.engines.stan.pystan_engine", "PyStanEngine"),
}


def engine_class(name: str) -> type[StanEngine]:
    """The class of a resolved engine name (``cmdstanpy`` or ``pystan``)."""
    module, cls = ENGINE_MODULES[name]
    return getattr(importlib.import_module(module), cls)


def get_engine(requested: str) -> StanEngine:
    """The engine named by ``stan.engine`` (auto: CmdStanPy when CmdStan resolves, else PyStan)."""
    return engine_class(software.resolve_stan_engine(requested))()


__all__ = [
    "ENGINE_MODULES",
    "VOLATILE_FIELDS",
    "StaleStampError",
    "StanEngine",
    "StanEngineError",
    "engine_class",
    "get_engine",
    "sampler_defaults",
    "sampler_settings",
]
