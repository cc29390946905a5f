from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    groups = prep.zip_groups(snakemake.input.split, snakemake.input.choice, snakemake.output.groups)
    record["n_groups"] = len(groups)
