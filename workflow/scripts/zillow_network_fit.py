from bayespipe.analyses.zillow import network as zillow_network
from bayespipe.io import read_json
from bayespipe.jobs import job

with job(snakemake) as record:
    heldout, device = zillow_network.fit(
        dict(snakemake.params.settings),
        dict(snakemake.params.tfp),
        snakemake.input.train,
        snakemake.input.validation,
        snakemake.input.predictors,
        dict(snakemake.output.items()),
    )
    record["device"] = device
    record["heldout"] = heldout
    record["train_seconds"] = read_json(snakemake.output.metrics)["train_seconds"]
