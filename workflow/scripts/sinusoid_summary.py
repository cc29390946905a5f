from bayespipe.jobs import job
from bayespipe.analyses.sinusoid import network as sinusoid

with job(snakemake) as record:
    table = sinusoid.summarize(list(snakemake.input.metrics), snakemake.output.table)
    record["band_ratio"] = dict(zip(table["variant"], table["band_ratio"]))
