# Analysis B: Bayesian network classifier on two moons (TensorFlow Probability, mean-field VI).
# Functions: bayespipe.analyses.moons.network. Variants: full_batch and minibatch (same data, same network).

MOONS = config["moons"]
MOONS_TITLE = ANALYSES["moons"].title
MOONS_VARIANTS = ["full_batch", "minibatch"]


wildcard_constraints:
    moons_variant="|".join(MOONS_VARIANTS),


rule moons_data:
    output:
        train=out("moons", "data/train.parquet"),
        test=out("moons", "data/test.parquet"),
    log:
        log_path("moons", "moons_data"),
    benchmark:
        bench_path("moons", "moons_data")
    conda:
        CONDA_ENV
    params:
        settings=MOONS,
    script:
        "../scripts/moons_data.py"


rule moons_fit:
    input:
        train=rules.moons_data.output.train,
        test=rules.moons_data.output.test,
    output:
        metrics=out("moons", "{moons_variant}/metrics.json"),
        history=out("moons", "{moons_variant}/history.csv"),
        predictions=out("moons", "{moons_variant}/test_predictions.parquet"),
        grid=out("moons", "{moons_variant}/grid.parquet"),
    log:
        log_path("moons", "moons_fit_{moons_variant}"),
    benchmark:
        bench_path("moons", "moons_fit_{moons_variant}")
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        settings=MOONS,
        tfp=config["tfp"],
    script:
        "../scripts/moons_fit.py"


rule moons_figures:
    input:
        history=rules.moons_fit.output.history,
        predictions=rules.moons_fit.output.predictions,
        grid=rules.moons_fit.output.grid,
    output:
        elbo=report(
            out("moons", "{moons_variant}/figures/elbo.png"),
            caption="../report/moons_elbo.rst",
            category=MOONS_TITLE,
            subcategory="{moons_variant}",
        ),
        labels=report(
            out("moons", "{moons_variant}/figures/test_labels.png"),
            caption="../report/moons_labels.rst",
            category=MOONS_TITLE,
            subcategory="{moons_variant}",
        ),
        grid_mean=report(
            out("moons", "{moons_variant}/figures/grid_mean.png"),
            caption="../report/moons_grid_mean.rst",
            category=MOONS_TITLE,
            subcategory="{moons_variant}",
        ),
        grid_sd=report(
            out("moons", "{moons_variant}/figures/grid_sd.png"),
            caption="../report/moons_grid_sd.rst",
            category=MOONS_TITLE,
            subcategory="{moons_variant}",
        ),
    log:
        log_path("moons", "moons_figures_{moons_variant}"),
    benchmark:
        bench_path("moons", "moons_figures_{moons_variant}")
    conda:
        CONDA_ENV
    script:
        "../scripts/moons_figures.py"


rule moons_summary:
    input:
        metrics=expand(out("moons", "{v}/metrics.json"), v=MOONS_VARIANTS),
    output:
        table=report(
            out("moons", "moons_metrics.csv"),
            caption="../report/moons_metrics.rst",
            category=MOONS_TITLE,
            subcategory="summary",
        ),
    log:
        log_path("moons", "moons_summary"),
    benchmark:
        bench_path("moons", "moons_summary")
    conda:
        CONDA_ENV
    script:
        "../scripts/moons_summary.py"


FINAL_TARGETS.setdefault("moons", []).extend(
    [
        rules.moons_summary.output.table,
        *expand(
            out("moons", "{v}/figures/{f}.png"),
            v=MOONS_VARIANTS,
            f=["elbo", "test_labels", "grid_mean", "grid_sd"],
        ),
        *expand(
            out("moons", "{v}/{f}"),
            v=MOONS_VARIANTS,
            f=[
                "metrics.json",
                "history.csv",
                "test_predictions.parquet",
                "grid.parquet",
            ],
        ),
    ]
)
