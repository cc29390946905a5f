# Analysis A, Zillow logerror: the Stan models (linear, random intercepts, intercepts only for the
# shrinkage study, missing predictor as parameters), the shrinkage study and the held-out table.
#
# One compile rule per program writes its stamp; each fit takes the stamp. Fits write the
# standard outputs of bayespipe.engines.stan.outputs plus predictive checks, residuals and held-out
# metrics (bayespipe.analyses.zillow.fit).


rule zillow_stan_compile:
    input:
        stan_file="stan/{program}.stan",
    output:
        stamp=out("zillow", "stan/{program}.compile.json"),
    log:
        log_path("zillow", "zillow_stan_compile_{program}"),
    benchmark:
        bench_path("zillow", "zillow_stan_compile_{program}")
    wildcard_constraints:
        program="|".join(ZILLOW_STAN_MODELS),
    priority: STAN_COMPILE_PRIORITY
    conda:
        CONDA_ENV
    params:
        engine=STAN_ENGINE,
        cpp_options=config["stan"]["cpp_options"],
        stanc_options=config["stan"]["stanc_options"],
    script:
        "../scripts/stan_compile.py"


for _model in ZILLOW_STAN_MODELS:

    rule:
        name:
            f"zillow_fit_{_model}"
        input:
            stan_file=f"stan/{_model}.stan",
            stamp=out("zillow", f"stan/{_model}.compile.json"),
            train=ZILLOW_FILES["train"],
            validation=ZILLOW_FILES["validation"],
            predictors=ZILLOW_FILES["predictors"],
            zip_groups=ZILLOW_FILES["zip_groups"],
            missing=ZILLOW_FILES["missing"] if _model == "missing_predictor" else [],
        output:
            **{
                key: zillow_fit_output(_model, key)
                for key in zillow_fit.output_names(_model)
            },
        log:
            log_path("zillow", f"zillow_fit_{_model}"),
        benchmark:
            bench_path("zillow", f"zillow_fit_{_model}")
        conda:
            CONDA_ENV
        resources:
            cpus_per_task=chains_at_once(ZILLOW_MODEL_SETTINGS[_model]),
        params:
            model=_model,
            sampler=ZILLOW_MODEL_SETTINGS[_model],
            engine=STAN_ENGINE,
            thresholds=config["diagnostics"],
            fixed_sigma=config["zillow"]["fixed_sigma"],
            predictive_rows=ZILLOW_MODEL_SETTINGS["predictive_rows"],
        script:
            "../scripts/zillow_fit.py"


rule zillow_shrinkage:
    input:
        posterior=out("zillow", "intercepts_only/posterior.nc"),
        train=ZILLOW_FILES["train"],
        predictors=ZILLOW_FILES["predictors"],
    output:
        figure=report(
            out("zillow", "shrinkage/shrinkage.png"),
            caption="../report/zillow_models_shrinkage.rst",
            category=ZILLOW_CATEGORY,
            subcategory="shrinkage",
        ),
        table=out("zillow", "shrinkage/shrinkage.csv"),
        by_class=out("zillow", "shrinkage/shrinkage_by_class.csv"),
    log:
        log_path("zillow", "zillow_shrinkage"),
    benchmark:
        bench_path("zillow", "zillow_shrinkage")
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_shrinkage.py"


rule zillow_compare:
    input:
        metrics=zillow_metric_files,
    output:
        table=report(
            out("zillow", "zillow_comparison.csv"),
            caption="../report/zillow_models_comparison.rst",
            category=ZILLOW_CATEGORY,
            subcategory="held-out comparison",
        ),
    log:
        log_path("zillow", "zillow_compare"),
    benchmark:
        bench_path("zillow", "zillow_compare")
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_compare.py"


FINAL_TARGETS.setdefault("zillow", []).extend(
    [
        *[
            out("zillow", f"{m}/{f}")
            for m in ZILLOW_STAN_MODELS
            for f in zillow_fit.output_files(m).values()
        ],
        *rules.zillow_shrinkage.output,
        rules.zillow_compare.output.table,
    ]
)
