from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.jobs import job

with job(snakemake) as record:
    sinusoid.plot(
        snakemake.input.train,
        snakemake.input.predictions,
        snakemake.wildcards.sinusoid_variant,
        snakemake.output.figure,
    )
