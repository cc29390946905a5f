from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.jobs import job

with job(snakemake) as record:
    table = sinusoid.summarize(list(snakemake.input.metrics), snakemake.output.table)
    for key in ("band_ratio", "rmse_inside_over_noise_sd"):
        record[key] = dict(zip(table["variant"], table[key], strict=True))
