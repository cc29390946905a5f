# Your own models: one `models:` config block per Stan program and table, no code written.
# Functions: bayespipe.analyses.models. For each model: check the table against the program's
# data block and build the Stan data, compile, fit (with the prior predictive run), then the
# checks the program allows: posterior predictive (<data>_rep), PSIS-LOO (log_lik), held-out.
# Every job's params carry only its own model's block, so editing one model reruns only its jobs.
# Each `comparisons:` entry compares its blocks' fits by PSIS-LOO (models_compare), reading only
# their posterior.nc and loo.json.


rule models_data:
    input:
        table=model_table,
        program=model_program,
    output:
        stan_data=model_out("data/stan_data.json"),
        card=model_out("data/data_card.json"),
    log:
        log_path("models", "models_data_{model}"),
    benchmark:
        bench_path("models", "models_data_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    priority: STAN_COMPILE_PRIORITY + 1  # its compile waits for it (seconds)
    conda:
        CONDA_ENV
    params:
        entry=model_data_block,
    script:
        "../scripts/models_data.py"


rule models_stan_compile:
    input:
        stan_file=model_program,
        # Compiled only once the table passed every check: a bad table fails in seconds.
        checked=rules.models_data.output.stan_data,
    output:
        stamp=model_out("stan/program.compile.json"),
    log:
        log_path("models", "models_stan_compile_{model}"),
    benchmark:
        bench_path("models", "models_stan_compile_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    priority: STAN_COMPILE_PRIORITY
    conda:
        CONDA_ENV
    params:
        engine=STAN_ENGINE,
        cpp_options=config["stan"]["cpp_options"],
        stanc_options=config["stan"]["stanc_options"],
    script:
        "../scripts/stan_compile.py"


rule models_fit:
    input:
        table=model_table,
        stan_data=rules.models_data.output.stan_data,
        program=model_program,
        stamp=rules.models_stan_compile.output.stamp,
    output:
        **{name: model_out(filename) for name, filename in FIT_FILES.items()},
        metrics=model_out("metrics.json"),
    log:
        log_path("models", "models_fit_{model}"),
    benchmark:
        bench_path("models", "models_fit_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=model_cpus,
    params:
        engine=STAN_ENGINE,
        entry=model_data_block,
        sampler=model_sampler,
        diagnostics=config["diagnostics"],
    script:
        "../scripts/models_fit.py"


rule models_ppc:
    input:
        posterior=rules.models_fit.output.posterior,
        stan_data=rules.models_data.output.stan_data,
        program=model_program,
    output:
        figure=report(
            model_out("posterior_predictive.png"),
            caption="../report/models_ppc.rst",
            category=MODELS_CATEGORY,
            subcategory="{model}",
        ),
        table=model_out("posterior_predictive.csv"),
    log:
        log_path("models", "models_ppc_{model}"),
    benchmark:
        bench_path("models", "models_ppc_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    conda:
        CONDA_ENV
    script:
        "../scripts/models_ppc.py"


rule models_loo:
    input:
        posterior=rules.models_fit.output.posterior,
    output:
        loo=model_out("loo.json"),
    log:
        log_path("models", "models_loo_{model}"),
    benchmark:
        bench_path("models", "models_loo_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    conda:
        CONDA_ENV
    script:
        "../scripts/models_loo.py"


rule models_heldout:
    input:
        posterior=rules.models_fit.output.posterior,
        stan_data=rules.models_data.output.stan_data,
        program=model_program,
        stamp=rules.models_stan_compile.output.stamp,
    output:
        heldout=model_out("heldout.json"),
    log:
        log_path("models", "models_heldout_{model}"),
    benchmark:
        bench_path("models", "models_heldout_{model}")
    wildcard_constraints:
        model=MODEL_NAMES,
    conda:
        CONDA_ENV
    params:
        engine=STAN_ENGINE,
        seed=lambda wildcards: model_sampler(wildcards).get("seed", 1),
    script:
        "../scripts/models_heldout.py"


rule models_compare:
    input:
        unpack(comparison_inputs),
    output:
        table=comparison_out("compare.csv"),
        figure=report(
            comparison_out("compare.png"),
            caption="../report/models_compare.rst",
            category=MODELS_CATEGORY,
            subcategory="comparison {comparison}",
        ),
        summary=comparison_out("compare.json"),
    log:
        log_path("models", "models_compare_{comparison}"),
    benchmark:
        bench_path("models", "models_compare_{comparison}")
    wildcard_constraints:
        comparison=COMPARISON_NAMES,
    conda:
        CONDA_ENV
    params:
        blocks=comparison_blocks,
    script:
        "../scripts/models_compare.py"


FINAL_TARGETS.setdefault("models", []).extend(
    path for name in MODELS for path in model_targets(name)
)
FINAL_TARGETS["models"].extend(
    path for name in COMPARISONS for path in comparison_targets(name)
)
