# Analysis D1: sinusoid regression with an epistemic band (tfp.layers.DenseVariational).
# Functions: bayespipe.analyses.sinusoid.{data,network,plots}. Variants: epistemic (known noise) and, when
# sinusoid.aleatoric is true, aleatoric (the network also predicts the noise scale).

SINUSOID = config["sinusoid"]
SINUSOID_TITLE = ANALYSES["sinusoid"].title
SINUSOID_VARIANTS = (
    ["epistemic", "aleatoric"] if SINUSOID["aleatoric"] else ["epistemic"]
)


wildcard_constraints:
    sinusoid_variant="epistemic|aleatoric",


rule sinusoid_data:
    output:
        train=out("sinusoid", "data/train.parquet"),
    log:
        log_path("sinusoid", "sinusoid_data"),
    benchmark:
        bench_path("sinusoid", "sinusoid_data")
    conda:
        CONDA_ENV
    params:
        settings=SINUSOID,
    script:
        "../scripts/sinusoid_data.py"


rule sinusoid_fit:
    input:
        train=rules.sinusoid_data.output.train,
    output:
        metrics=out("sinusoid", "{sinusoid_variant}/metrics.json"),
        history=out("sinusoid", "{sinusoid_variant}/history.csv"),
        predictions=out("sinusoid", "{sinusoid_variant}/predictions.parquet"),
    log:
        log_path("sinusoid", "sinusoid_fit_{sinusoid_variant}"),
    benchmark:
        bench_path("sinusoid", "sinusoid_fit_{sinusoid_variant}")
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        settings=SINUSOID,
        tfp=config["tfp"],
    script:
        "../scripts/sinusoid_fit.py"


rule sinusoid_figure:
    input:
        train=rules.sinusoid_data.output.train,
        predictions=rules.sinusoid_fit.output.predictions,
    output:
        figure=report(
            out("sinusoid", "{sinusoid_variant}/figures/band.png"),
            caption="../report/sinusoid_band.rst",
            category=SINUSOID_TITLE,
            subcategory="{sinusoid_variant}",
        ),
    log:
        log_path("sinusoid", "sinusoid_figure_{sinusoid_variant}"),
    benchmark:
        bench_path("sinusoid", "sinusoid_figure_{sinusoid_variant}")
    conda:
        CONDA_ENV
    script:
        "../scripts/sinusoid_figure.py"


rule sinusoid_summary:
    input:
        metrics=expand(out("sinusoid", "{v}/metrics.json"), v=SINUSOID_VARIANTS),
    output:
        table=report(
            out("sinusoid", "sinusoid_metrics.csv"),
            caption="../report/sinusoid_metrics.rst",
            category=SINUSOID_TITLE,
            subcategory="summary",
        ),
    log:
        log_path("sinusoid", "sinusoid_summary"),
    benchmark:
        bench_path("sinusoid", "sinusoid_summary")
    conda:
        CONDA_ENV
    script:
        "../scripts/sinusoid_summary.py"


FINAL_TARGETS.setdefault("sinusoid", []).extend(
    [
        rules.sinusoid_summary.output.table,
        *expand(out("sinusoid", "{v}/figures/band.png"), v=SINUSOID_VARIANTS),
        *expand(
            out("sinusoid", "{v}/{f}"),
            v=SINUSOID_VARIANTS,
            f=["metrics.json", "history.csv", "predictions.parquet"],
        ),
    ]
)
