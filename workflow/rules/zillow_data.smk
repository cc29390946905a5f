# Analysis A, Zillow logerror: the data stage.
#
# synthetic twin (or the Kaggle files in zillow.kaggle_dir) -> merge -> drop sparse columns ->
# choose predictors -> drop incomplete rows -> split -> zip groups -> standardize, plus the
# missing-data table, the truth (synthetic) and the data card. Functions: bayespipe.analyses.zillow.prep.


rule zillow_synthetic:
    output:
        transactions=out("zillow", f"data/raw/{zillow_kaggle.TRANSACTIONS_FILE}"),
        properties=out("zillow", f"data/raw/{zillow_kaggle.PROPERTIES_FILE}"),
        truth=out("zillow", "data/raw/synthetic_truth.json"),
    log:
        log_path("zillow", "zillow_synthetic"),
    benchmark:
        bench_path("zillow", "zillow_synthetic")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    params:
        settings={
            k: ZILLOW[k]
            for k in ("seed", "scale", "n_properties", "n_transactions", "n_zips")
        },
    script:
        "../scripts/zillow_synthetic.py"


rule zillow_merge:
    input:
        **zillow_raw_files(),
    output:
        merged=ZILLOW_FILES["merged"],
        report=ZILLOW_FILES["merge_report"],
    log:
        log_path("zillow", "zillow_merge"),
    benchmark:
        bench_path("zillow", "zillow_merge")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_merge.py"


rule zillow_drop_nulls:
    input:
        merged=ZILLOW_FILES["merged"],
    output:
        table=ZILLOW_FILES["columns"],
        report=ZILLOW_FILES["columns_report"],
    log:
        log_path("zillow", "zillow_drop_nulls"),
    benchmark:
        bench_path("zillow", "zillow_drop_nulls")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    params:
        max_null_fraction=ZILLOW["max_null_fraction"],
    script:
        "../scripts/zillow_drop_nulls.py"


rule zillow_predictors:
    input:
        table=ZILLOW_FILES["columns"],
        null_report=ZILLOW_FILES["columns_report"],
    output:
        choice=ZILLOW_FILES["choice"],
    log:
        log_path("zillow", "zillow_predictors"),
    benchmark:
        bench_path("zillow", "zillow_predictors")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    params:
        n_predictors=ZILLOW["n_predictors"],
        predictors=ZILLOW["predictors"],
        imputable_predictor=ZILLOW["imputable_predictor"],
        max_predictor_correlation=ZILLOW["max_predictor_correlation"],
    script:
        "../scripts/zillow_predictors.py"


rule zillow_drop_rows:
    input:
        table=ZILLOW_FILES["columns"],
        choice=ZILLOW_FILES["choice"],
    output:
        rows=ZILLOW_FILES["rows"],
        report=ZILLOW_FILES["rows_report"],
    log:
        log_path("zillow", "zillow_drop_rows"),
    benchmark:
        bench_path("zillow", "zillow_drop_rows")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_drop_rows.py"


rule zillow_split:
    input:
        rows=ZILLOW_FILES["rows"],
        choice=ZILLOW_FILES["choice"],
    output:
        split=ZILLOW_FILES["split"],
        report=ZILLOW_FILES["split_report"],
    log:
        log_path("zillow", "zillow_split"),
    benchmark:
        bench_path("zillow", "zillow_split")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    params:
        validation_fraction=ZILLOW["validation_fraction"],
        seed=ZILLOW["seed"],
    script:
        "../scripts/zillow_split.py"


rule zillow_groups:
    input:
        split=ZILLOW_FILES["split"],
        choice=ZILLOW_FILES["choice"],
    output:
        groups=ZILLOW_FILES["zip_groups"],
    log:
        log_path("zillow", "zillow_groups"),
    benchmark:
        bench_path("zillow", "zillow_groups")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_groups.py"


rule zillow_standardize:
    input:
        split=ZILLOW_FILES["split"],
        groups=ZILLOW_FILES["zip_groups"],
        choice=ZILLOW_FILES["choice"],
    output:
        train=ZILLOW_FILES["train"],
        validation=ZILLOW_FILES["validation"],
        predictors=ZILLOW_FILES["predictors"],
    log:
        log_path("zillow", "zillow_standardize"),
    benchmark:
        bench_path("zillow", "zillow_standardize")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_standardize.py"


rule zillow_missing_table:
    input:
        split=ZILLOW_FILES["split"],
        groups=ZILLOW_FILES["zip_groups"],
        predictors=ZILLOW_FILES["predictors"],
    output:
        missing=ZILLOW_FILES["missing"],
    log:
        log_path("zillow", "zillow_missing_table"),
    benchmark:
        bench_path("zillow", "zillow_missing_table")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_missing_table.py"


rule zillow_truth:
    input:
        raw=rules.zillow_synthetic.output.truth,
        predictors=ZILLOW_FILES["predictors"],
        groups=ZILLOW_FILES["zip_groups"],
    output:
        truth=out("zillow", "data/truth.json"),
    log:
        log_path("zillow", "zillow_truth"),
    benchmark:
        bench_path("zillow", "zillow_truth")
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_truth.py"


rule zillow_data_card:
    input:
        merge=ZILLOW_FILES["merge_report"],
        columns=ZILLOW_FILES["columns_report"],
        choice=ZILLOW_FILES["choice"],
        rows=ZILLOW_FILES["rows_report"],
        split=ZILLOW_FILES["split_report"],
        predictors=ZILLOW_FILES["predictors"],
        groups=ZILLOW_FILES["zip_groups"],
        validation=ZILLOW_FILES["validation"],
        missing=ZILLOW_FILES["missing"],
        split_rows=ZILLOW_FILES["split"],
        truth=rules.zillow_truth.output.truth if ZILLOW_SYNTHETIC else [],
    output:
        card=out("zillow", "data/data_card.json"),
        markdown=out("zillow", "data/data_card.md"),
        figure=report(
            out("zillow", "data/figures/data_overview.png"),
            caption="../report/zillow_data_overview.rst",
            category=ANALYSES["zillow"].title,
        ),
    log:
        log_path("zillow", "zillow_data_card"),
    benchmark:
        bench_path("zillow", "zillow_data_card")
    conda:
        CONDA_ENV
    params:
        source=ZILLOW["source"],
        raw_files=zillow_card_files(),
    script:
        "../scripts/zillow_data_card.py"


FINAL_TARGETS.setdefault("zillow", []).extend(
    [
        ZILLOW_FILES["train"],
        ZILLOW_FILES["validation"],
        ZILLOW_FILES["predictors"],
        ZILLOW_FILES["zip_groups"],
        ZILLOW_FILES["missing"],
        *rules.zillow_data_card.output,
    ]
    + (list(rules.zillow_truth.output) if ZILLOW_SYNTHETIC else [])
)
