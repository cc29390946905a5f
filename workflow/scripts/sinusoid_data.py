from bayespipe.jobs import job
from bayespipe.tfp import sinusoid

with job(snakemake) as record:
    record.update(sinusoid.prepare(dict(snakemake.params.settings), snakemake.output.train))
