from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(sinusoid.prepare(dict(snakemake.params.settings), snakemake.output.train))
