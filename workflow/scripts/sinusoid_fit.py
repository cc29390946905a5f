from bayespipe.jobs import job
from bayespipe.analyses.sinusoid import network as sinusoid

with job(snakemake) as record:
    metrics, device = sinusoid.fit(
        dict(snakemake.params.settings),
        dict(snakemake.params.tfp),
        snakemake.wildcards.sinusoid_variant,
        snakemake.input.train,
        dict(snakemake.output.items()),
    )
    record["device"] = device
    record["band_ratio"] = metrics["band_ratio"]
    record["train_seconds"] = metrics["train_seconds"]
