import pandas as pd

from bayespipe.analyses.zillow import synthetic
from bayespipe.io import read_json, write_json
from bayespipe.jobs import job

with job(snakemake) as record:
    truth = synthetic.prepared_truth(
        read_json(snakemake.input.raw),
        read_json(snakemake.input.predictors),
        pd.read_parquet(snakemake.input.groups),
    )
    write_json(snakemake.output.truth, truth)
    record["betas"] = truth["betas"]
