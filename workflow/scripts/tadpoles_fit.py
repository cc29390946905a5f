# Fit the reed-frog varying-intercepts model: posterior and prior-only runs, standard outputs,
# metrics.
from bayespipe.analyses.tadpoles import model as tadpoles
from bayespipe.engines.stan.outputs import FIT_FILES
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.stan_file) as record:
    result = tadpoles.fit(
        snakemake.input.table,
        snakemake.input.stan_file,
        snakemake.input.stamp,
        {name: snakemake.output[name] for name in FIT_FILES},
        snakemake.output.metrics,
        engine=snakemake.params.engine,
        sampler=dict(snakemake.params.sampler),  # parallel_chains as configured
        thresholds=snakemake.params.diagnostics,
    )
    record["engine"] = result["stan"]
    record["metrics"] = result
