from bayespipe.analyses.zillow import synthetic
from bayespipe.jobs import job

with job(snakemake) as record:
    settings = snakemake.params.settings
    n_properties, n_transactions = synthetic.sizes(settings)
    record.update(
        synthetic.generate(
            settings["seed"],
            n_properties,
            n_transactions,
            settings["n_zips"],
            snakemake.output.transactions,
            snakemake.output.properties,
            snakemake.output.truth,
        )
    )
