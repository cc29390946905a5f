# Held-out comparison of the Zillow models: one row per model (MAE, RMSE, mean log predictive
# density).
from bayespipe.analyses.zillow import heldout
from bayespipe.jobs import job

with job(snakemake) as record:
    table = heldout.write_comparison(list(snakemake.input.metrics), snakemake.output.table)
    record["models"] = table["model"].tolist()
