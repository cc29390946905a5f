from bayespipe.analyses.moons import network as moons
from bayespipe.jobs import job

with job(snakemake) as record:
    metrics, device = moons.fit(
        dict(snakemake.params.settings),
        dict(snakemake.params.tfp),
        snakemake.wildcards.moons_variant,
        snakemake.input.train,
        snakemake.input.test,
        dict(snakemake.output.items()),
    )
    record["device"] = device
    record["test_accuracy"] = metrics["test_accuracy"]
    record["train_seconds"] = metrics["train_seconds"]
