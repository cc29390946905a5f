from bayespipe.analyses.moons import network as moons
from bayespipe.jobs import job

with job(snakemake) as record:
    record.update(
        moons.prepare(
            dict(snakemake.params.settings), snakemake.output.train, snakemake.output.test
        )
    )
