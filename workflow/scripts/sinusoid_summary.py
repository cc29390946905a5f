from bayespipe.jobs import job
from bayespipe.tfp import sinusoid

with job(snakemake) as record:
    table = sinusoid.summarize(list(snakemake.input.metrics), snakemake.output.table)
    record["band_ratio"] = dict(zip(table["variant"], table["band_ratio"]))
