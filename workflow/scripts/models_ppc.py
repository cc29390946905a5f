# Posterior predictive figure and numbers of one model block (its <data>_rep quantities).
from bayespipe.analyses.models import checks
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.program) as record:
    record["inside_90"] = checks.posterior_predictive(
        snakemake.input.posterior,
        snakemake.input.stan_data,
        snakemake.input.program,
        snakemake.output.figure,
        snakemake.output.table,
    )
