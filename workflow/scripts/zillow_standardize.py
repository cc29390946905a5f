from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    summary = prep.standardize(
        snakemake.input.split,
        snakemake.input.groups,
        snakemake.input.choice,
        snakemake.output.train,
        snakemake.output.validation,
        snakemake.output.predictors,
    )
    record.update(
        {k: summary[k] for k in ("n_train", "n_validation", "n_groups", "n_validation_unseen_zip")}
    )
