from bayespipe.analyses.sinusoid import plots as sinusoid_plots
from bayespipe.jobs import job

with job(snakemake) as record:
    sinusoid_plots.plot(
        snakemake.input.train,
        snakemake.input.predictions,
        snakemake.wildcards.sinusoid_variant,
        snakemake.output.figure,
    )
