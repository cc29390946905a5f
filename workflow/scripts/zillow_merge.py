from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(
        prep.merge(
            snakemake.input.transactions,
            snakemake.input.properties,
            snakemake.output.merged,
            snakemake.output.report,
        )
    )
