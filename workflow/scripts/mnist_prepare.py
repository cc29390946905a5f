from bayespipe.analyses.mnist import data as mnist
from bayespipe.jobs import job

with job(snakemake) as record:
    record["data"] = mnist.prepare(dict(snakemake.params.settings), snakemake.output.split)
