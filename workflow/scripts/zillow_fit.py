# Fit one Zillow Stan model (prior-only and posterior runs) and write its outputs.
from bayespipe.analyses.zillow import fit
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.stan_file) as record:
    inputs = fit.ModelInputs(
        stan_file=snakemake.input.stan_file,
        stamp=snakemake.input.stamp,
        train=snakemake.input.train,
        validation=snakemake.input.validation,
        predictors=snakemake.input.predictors,
        zip_groups=snakemake.input.zip_groups,
        missing=snakemake.input.missing or None,
    )
    outputs = {key: snakemake.output[key] for key in fit.output_names(snakemake.params.model)}
    # parallel_chains as configured, whatever the threads the job declares (README: Where the
    # time goes)
    sampler = dict(snakemake.params.sampler)
    record.update(
        fit.fit_model(
            snakemake.params.model,
            inputs,
            outputs,
            sampler=sampler,
            engine=snakemake.params.engine,
            thresholds=snakemake.params.thresholds,
            fixed_sigma=snakemake.params.fixed_sigma,
            n_rep=snakemake.params.predictive_rows,
        )
    )
