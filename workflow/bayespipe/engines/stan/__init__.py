"""The Stan layer: engines, data checks, diagnostics gates, fit outputs and figures.

The Stan layer: one engine interface (CmdStanPy or PyStan), data checks, diagnostics gates, the
standard outputs of a fit and its figures.

    from bayespipe.engines.stan.engine import get_engine          # auto | cmdstanpy | pystan
    from bayespipe.engines.stan.data import Field, check_stan_data
    from bayespipe.engines.stan.outputs import save_fit, fit_outputs

    check_stan_data(data, {"N": Field("int", lower=1), "y": Field("real", ("N",))}, source=path)
    engine = get_engine(config["stan"]["engine"])
    engine.compile(stan_file, stamp_path)                 # its own rule, once per program
    idata, info = engine.fit(stan_file, data, sampler, stamp_path=stamp_path, idata_kwargs=...)
    prior, _ = engine.fit(stan_file, data, sampler, stamp_path=stamp_path, prior_only=True, ...)
    diagnostics = save_fit(
        fit_folder, idata, info, prior_idata=prior, thresholds=config["diagnostics"]
    )

Every Stan program declares ``int<lower=0, upper=1> prior_only;`` in its data; the engine sets it.
Submodules import their heavy dependencies (arviz, stan, cmdstanpy, matplotlib) themselves, so
importing this package stays cheap.
"""
