# Shrinkage study: no-pooling against partial-pooling zip means (intercepts-only model).
from bayespipe.analyses.zillow import shrinkage
from bayespipe.jobs import job

with job(snakemake) as record:
    by_class = shrinkage.run_study(
        snakemake.input.posterior,
        snakemake.input.train,
        snakemake.input.predictors,
        figure_path=snakemake.output.figure,
        table_path=snakemake.output.table,
        by_class_path=snakemake.output.by_class,
    )
    record["median_shrinkage_by_class"] = dict(
        zip(by_class["size_class"], by_class["median_shrinkage"], strict=True)
    )
