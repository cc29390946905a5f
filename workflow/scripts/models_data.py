# Check a model block's table against its program's data block; write the Stan data and card.
from bayespipe.analyses.models.prepare import prepare
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.program) as record:
    record["card"] = prepare(
        snakemake.wildcards.model,
        snakemake.params.entry,
        snakemake.input.table,
        snakemake.input.program,
        snakemake.output.stan_data,
        snakemake.output.card,
    )
