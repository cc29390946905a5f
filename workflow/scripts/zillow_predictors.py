from bayespipe.analyses.zillow import prep
from bayespipe.jobs import job

with job(snakemake) as record:
    choice = prep.choose_predictors(
        snakemake.input.table,
        snakemake.input.null_report,
        snakemake.params.n_predictors,
        snakemake.params.predictors,
        snakemake.params.imputable_predictor,
        snakemake.output.choice,
        snakemake.params.max_predictor_correlation,
    )
    record["predictors"] = choice["predictors"]
    record["imputable_predictor"] = choice["imputable_predictor"]
    record["skipped_correlated"] = choice["skipped_correlated"]
