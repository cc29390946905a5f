from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(
        prep.drop_incomplete_rows(
            snakemake.input.table,
            snakemake.input.choice,
            snakemake.output.rows,
            snakemake.output.report,
        )
    )
