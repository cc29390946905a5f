from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    table = prep.missing_table(
        snakemake.input.split,
        snakemake.input.groups,
        snakemake.input.predictors,
        snakemake.output.missing,
    )
    record["rows"] = len(table)
