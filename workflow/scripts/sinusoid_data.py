from bayespipe.analyses.sinusoid import data as sinusoid_data
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(sinusoid_data.prepare(dict(snakemake.params.settings), snakemake.output.train))
