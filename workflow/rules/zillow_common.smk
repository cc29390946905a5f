# Analysis A, Zillow: constants and input functions shared by the zillow_*.smk rule files
# (kept apart from the rules, as the Snakemake linter asks).

from bayespipe.analyses.zillow import kaggle as zillow_kaggle
from bayespipe.analyses.zillow.prep import chain_paths as zillow_chain_paths

ZILLOW = config["zillow"]
ZILLOW_SYNTHETIC = ZILLOW["source"] == "synthetic"
ZILLOW_FILES = {
    key: out("zillow", f"data/{path.name}")
    for key, path in zillow_chain_paths(Path("")).items()
}


def zillow_raw_files():
    """The two Kaggle-format CSV files: generated into the version folder, or the user's own."""
    if ZILLOW_SYNTHETIC:
        return {
            "transactions": out(
                "zillow", f"data/raw/{zillow_kaggle.TRANSACTIONS_FILE}"
            ),
            "properties": out("zillow", f"data/raw/{zillow_kaggle.PROPERTIES_FILE}"),
        }
    return zillow_kaggle.kaggle_files(
        ZILLOW["kaggle_dir"], ROOT, check="zillow" in ENABLED
    )


def zillow_card_files():
    """The raw files as the data card names them: stable across checkouts and result folders."""
    names = {
        "transactions": zillow_kaggle.TRANSACTIONS_FILE,
        "properties": zillow_kaggle.PROPERTIES_FILE,
    }
    folder = "data/raw" if ZILLOW_SYNTHETIC else str(ZILLOW["kaggle_dir"])
    return {key: f"{folder}/{name}" for key, name in names.items()}


from bayespipe.analyses.zillow import fit as zillow_fit
from bayespipe.analyses.zillow.models import MODELS as ZILLOW_STAN_MODELS

ZILLOW_CATEGORY = ANALYSES["zillow"].title
ZILLOW_MODEL_SETTINGS = config["zillow"]["models"]
# Figures in Snakemake's report: key -> (caption, label)
ZILLOW_REPORT_FIGURES = {
    "prior_predictive": (
        "../report/zillow_models_prior_predictive.rst",
        "prior predictive check",
    ),
    "posterior_predictive": (
        "../report/zillow_models_posterior_predictive.rst",
        "posterior predictive check",
    ),
    "residuals": ("../report/zillow_models_residuals.rst", "validation residuals"),
    "densities": ("../report/zillow_models_densities.rst", "posterior densities"),
}


def zillow_fit_output(model, key):
    path = out("zillow", f"{model}/{zillow_fit.output_files(model)[key]}")
    if key not in ZILLOW_REPORT_FIGURES:
        return path
    caption, label = ZILLOW_REPORT_FIGURES[key]
    return report(
        path,
        caption=caption,
        category=ZILLOW_CATEGORY,
        subcategory=model,
        labels={"model": model, "figure": label},
    )


ZILLOW_NETWORK_METRICS = out("zillow", "network/heldout_metrics.json")


def zillow_metric_files(wildcards):
    """The Stan models' held-out metrics, plus the network's when enabled and a rule makes it
    (looked up when the DAG is built, after every rule file is included)."""
    files = [
        out("zillow", f"{model}/heldout_metrics.json") for model in ZILLOW_STAN_MODELS
    ]
    network_rule = any(
        str(f) == ZILLOW_NETWORK_METRICS for r in workflow.rules for f in r.output
    )
    if config["zillow"]["network"]["enabled"] and network_rule:
        files.append(ZILLOW_NETWORK_METRICS)
    return files
