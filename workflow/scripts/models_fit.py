# Fit one model block: posterior and prior predictive runs, standard fit outputs, metrics.
from bayespipe.analyses.models import fit
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.program) as record:
    record["metrics"] = fit.fit(
        snakemake.wildcards.model,
        snakemake.params.entry,
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        engine=snakemake.params.engine,
        sampler=dict(snakemake.params.sampler),  # parallel_chains as configured
        thresholds=snakemake.params.diagnostics,
    )
