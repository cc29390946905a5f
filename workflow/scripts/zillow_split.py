from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(
        prep.split(
            snakemake.input.rows,
            snakemake.input.choice,
            snakemake.params.validation_fraction,
            snakemake.params.seed,
            snakemake.output.split,
            snakemake.output.report,
        )
    )
