# Analysis C: reed-frog tadpoles, varying intercepts (Stan).


rule reedfrogs_prepare:
    input:
        csv=config["reedfrogs"]["path"],
    output:
        table=out("tadpoles", "data/reedfrogs.parquet"),
    log:
        log_path("tadpoles", "reedfrogs_prepare"),
    benchmark:
        bench_path("tadpoles", "reedfrogs_prepare")
    conda:
        CONDA_ENV
    script:
        "../scripts/reedfrogs_prepare.py"


TADPOLES_CATEGORY = ANALYSES["tadpoles"].title
TADPOLES_SAMPLER = config["tadpoles"]["sampler"]


TADPOLES_FIGURES = {
    name: report(
        out("tadpoles", f"figures/{name}.png"),
        caption=f"../report/tadpoles_{name}.rst",
        category=TADPOLES_CATEGORY,
    )
    for name in ("logits", "survival", "shrinkage", "ppc")
}


rule tadpoles_stan_compile:
    input:
        stan_file="stan/tadpoles.stan",
    output:
        stamp=out("tadpoles", "stan/tadpoles.compile.json"),
    log:
        log_path("tadpoles", "tadpoles_stan_compile"),
    benchmark:
        bench_path("tadpoles", "tadpoles_stan_compile")
    priority: STAN_COMPILE_PRIORITY
    conda:
        CONDA_ENV
    params:
        engine=STAN_ENGINE,
        cpp_options=config["stan"]["cpp_options"],
        stanc_options=config["stan"]["stanc_options"],
    script:
        "../scripts/stan_compile.py"


rule tadpoles_fit:
    input:
        table=rules.reedfrogs_prepare.output.table,
        stan_file="stan/tadpoles.stan",
        stamp=rules.tadpoles_stan_compile.output.stamp,
    output:
        posterior=out("tadpoles", "fit/posterior.nc"),
        summary=out("tadpoles", "fit/summary.csv"),
        diagnostics=out("tadpoles", "fit/diagnostics.json"),
        trace=report(
            out("tadpoles", "fit/trace.png"),
            caption="../report/tadpoles_trace.rst",
            category=TADPOLES_CATEGORY,
        ),
        densities=out("tadpoles", "fit/densities.png"),
        metrics=out("tadpoles", "fit/metrics.json"),
    log:
        log_path("tadpoles", "tadpoles_fit"),
    benchmark:
        bench_path("tadpoles", "tadpoles_fit")
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=chains_at_once(TADPOLES_SAMPLER),
    params:
        engine=STAN_ENGINE,
        sampler=TADPOLES_SAMPLER,
        diagnostics=config["diagnostics"],
    script:
        "../scripts/tadpoles_fit.py"


rule tadpoles_figures:
    input:
        table=rules.reedfrogs_prepare.output.table,
        posterior=rules.tadpoles_fit.output.posterior,
    output:
        logits=TADPOLES_FIGURES["logits"],
        survival=TADPOLES_FIGURES["survival"],
        shrinkage=TADPOLES_FIGURES["shrinkage"],
        ppc=TADPOLES_FIGURES["ppc"],
    log:
        log_path("tadpoles", "tadpoles_figures"),
    benchmark:
        bench_path("tadpoles", "tadpoles_figures")
    conda:
        CONDA_ENV
    script:
        "../scripts/tadpoles_figures.py"


rule tadpoles_compare_tfp_hmc:
    input:
        table=rules.reedfrogs_prepare.output.table,
        metrics=rules.tadpoles_fit.output.metrics,
        posterior=rules.tadpoles_fit.output.posterior,
    output:
        comparison=out("tadpoles", "compare/nuts_vs_tfp_hmc.csv"),
        summary=out("tadpoles", "compare/tfp_hmc_summary.csv"),
        trace=report(
            out("tadpoles", "compare/tfp_hmc_trace.png"),
            caption="../report/tadpoles_tfp_hmc.rst",
            category=TADPOLES_CATEGORY,
        ),
    log:
        log_path("tadpoles", "tadpoles_compare_tfp_hmc"),
    benchmark:
        bench_path("tadpoles", "tadpoles_compare_tfp_hmc")
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        hmc=config["tadpoles"]["tfp_hmc"],
        tfp=config["tfp"],
    script:
        "../scripts/tadpoles_compare_tfp_hmc.py"


FINAL_TARGETS.setdefault("tadpoles", []).extend(
    [
        *rules.reedfrogs_prepare.output,
        *rules.tadpoles_fit.output,
        *rules.tadpoles_figures.output,
        *(
            rules.tadpoles_compare_tfp_hmc.output
            if config["tadpoles"]["compare_tfp_hmc"]
            else []
        ),
    ]
)
