# Fit one model block: posterior and prior predictive runs, standard fit outputs, metrics.
from bayespipe.analyses.models import fit
from bayespipe.engines.stan.outputs import FIT_FILES
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.program) as record:
    record["metrics"] = fit.fit(
        snakemake.wildcards.model,
        snakemake.params.entry,
        snakemake.input.table,
        snakemake.input.stan_data,
        snakemake.input.program,
        snakemake.input.stamp,
        {name: snakemake.output[name] for name in FIT_FILES},
        snakemake.output.metrics,
        engine=snakemake.params.engine,
        sampler={**snakemake.params.sampler, "parallel_chains": snakemake.threads},
        thresholds=snakemake.params.diagnostics,
    )
