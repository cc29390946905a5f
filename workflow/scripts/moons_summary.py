from bayespipe.analyses.moons import network as moons
from bayespipe.jobs import job

with job(snakemake) as record:
    table = moons.summarize(list(snakemake.input.metrics), snakemake.output.table)
    record["test_accuracy"] = dict(zip(table["variant"], table["test_accuracy"], strict=True))
