from bayespipe.jobs import job
from bayespipe.tfp import moons

with job(snakemake) as record:
    record.update(moons.prepare(dict(snakemake.params.settings), snakemake.output.train, snakemake.output.test))
