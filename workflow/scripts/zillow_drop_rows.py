from bayespipe.jobs import job
from bayespipe.analyses.zillow import prep

with job(snakemake) as record:
    record.update(prep.drop_incomplete_rows(snakemake.input.table, snakemake.input.choice,
                                            snakemake.output.rows, snakemake.output.report))
