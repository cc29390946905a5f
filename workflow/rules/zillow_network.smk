# Analysis A, the network with random effects (TensorFlow Probability) on the prepared Zillow
# data (zillow_data.smk). Its network/heldout_metrics.json joins zillow_comparison.csv
# (zillow_models.smk). Functions: bayespipe.analyses.zillow.network.

ZILLOW_NETWORK = config["zillow"]["network"]
ZILLOW_NETWORK_CATEGORY = ANALYSES["zillow"].title


rule zillow_network_fit:
    input:
        train=out("zillow", "data/train.parquet"),
        validation=out("zillow", "data/validation.parquet"),
        predictors=out("zillow", "data/predictors.json"),
    output:
        heldout=out("zillow", "network/heldout_metrics.json"),
        metrics=out("zillow", "network/metrics.json"),
        history=out("zillow", "network/history.csv"),
        predictions=out("zillow", "network/validation_predictions.parquet"),
        zip_intercepts=out("zillow", "network/zip_intercepts.parquet"),
    log:
        log_path("zillow", "zillow_network_fit"),
    benchmark:
        bench_path("zillow", "zillow_network_fit")
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        settings=ZILLOW_NETWORK,
        tfp=config["tfp"],
    script:
        "../scripts/zillow_network_fit.py"


rule zillow_network_residuals:
    input:
        predictions=rules.zillow_network_fit.output.predictions,
    output:
        figure=report(
            out("zillow", "network/figures/residuals.png"),
            caption="../report/zillow_network_residuals.rst",
            category=ZILLOW_NETWORK_CATEGORY,
            subcategory="network with random effects",
        ),
    log:
        log_path("zillow", "zillow_network_residuals"),
    benchmark:
        bench_path("zillow", "zillow_network_residuals")
    conda:
        CONDA_ENV
    script:
        "../scripts/zillow_network_residuals.py"


if ZILLOW_NETWORK["enabled"]:
    FINAL_TARGETS.setdefault("zillow", []).extend(
        [*rules.zillow_network_fit.output, *rules.zillow_network_residuals.output]
    )
