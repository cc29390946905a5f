from bayespipe.jobs import job
from bayespipe.analyses.sinusoid import network as sinusoid

with job(snakemake) as record:
    record.update(sinusoid.prepare(dict(snakemake.params.settings), snakemake.output.train))
