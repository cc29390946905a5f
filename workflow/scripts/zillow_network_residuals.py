from bayespipe.jobs import job
from bayespipe.analyses.zillow import network as zillow_network

with job(snakemake) as record:
    zillow_network.plot_residuals(snakemake.input.predictions, snakemake.output.figure)
