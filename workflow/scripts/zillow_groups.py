from bayespipe.jobs import job
from bayespipe.analyses.zillow import prep

with job(snakemake) as record:
    groups = prep.zip_groups(snakemake.input.split, snakemake.input.choice, snakemake.output.groups)
    record["n_groups"] = len(groups)
