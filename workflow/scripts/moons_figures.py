from bayespipe.analyses.moons import network as moons
from bayespipe.jobs import job

with job(snakemake) as record:
    moons.plot(
        snakemake.input.history,
        snakemake.input.predictions,
        snakemake.input.grid,
        snakemake.wildcards.moons_variant,
        dict(snakemake.output.items()),
    )
