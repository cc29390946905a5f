# Score the held-out rows of one model block with its generated quantities.
from bayespipe.analyses.models import checks
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.program) as record:
    record["heldout"] = checks.heldout(
        snakemake.input.posterior,
        snakemake.input.stan_data,
        snakemake.input.program,
        snakemake.input.stamp,
        snakemake.output.heldout,
        engine=snakemake.params.engine,
        seed=snakemake.params.seed,
    )
