# PSIS-LOO with Pareto k of one model block (its log_lik).
from bayespipe.analyses.models import checks
from bayespipe.jobs import job

with job(snakemake) as record:
    record["loo"] = checks.loo(snakemake.input.posterior, snakemake.output.loo)
