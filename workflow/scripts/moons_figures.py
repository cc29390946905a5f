from bayespipe.jobs import job
from bayespipe.analyses.moons import network as moons

with job(snakemake) as record:
    moons.plot(
        snakemake.input.history,
        snakemake.input.predictions,
        snakemake.input.grid,
        snakemake.wildcards.moons_variant,
        dict(snakemake.output.items()),
    )
