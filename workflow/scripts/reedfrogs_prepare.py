from bayespipe.analyses.tadpoles import reedfrogs
from bayespipe.jobs import job

with job(snakemake) as record:
    table = reedfrogs.prepare(snakemake.input.csv, snakemake.output.table)
    record["rows"] = len(table)
