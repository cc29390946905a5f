from bayespipe.analyses.zillow import network as zillow_network
from bayespipe.jobs import job

with job(snakemake) as record:
    zillow_network.plot_residuals(snakemake.input.predictions, snakemake.output.figure)
