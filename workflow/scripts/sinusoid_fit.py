from bayespipe.analyses.sinusoid import network as sinusoid
from bayespipe.jobs import job

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
    record["rmse_inside_over_noise_sd"] = metrics["rmse_inside_over_noise_sd"]
    record["train_seconds"] = metrics["train_seconds"]
