from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    report = prep.drop_sparse_columns(
        snakemake.input.merged,
        snakemake.params.max_null_fraction,
        snakemake.output.table,
        snakemake.output.report,
    )
    record["dropped_columns"] = sorted(report["dropped"])
