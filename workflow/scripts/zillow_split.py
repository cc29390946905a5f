from bayespipe.jobs import job
from bayespipe.analyses.zillow import prep

with job(snakemake) as record:
    record.update(prep.split(snakemake.input.rows, snakemake.input.choice, snakemake.params.validation_fraction,
                             snakemake.params.seed, snakemake.output.split, snakemake.output.report))
