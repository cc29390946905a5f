from bayespipe.jobs import job
from bayespipe.analyses.moons import network as moons

with job(snakemake) as record:
    record.update(moons.prepare(dict(snakemake.params.settings), snakemake.output.train, snakemake.output.test))
