"""Analysis A, Zillow ``logerror``.

Data (Kaggle loader, synthetic twin, preparation chain, data card) and the models that consume the
prepared tables.
"""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "zillow",
    "Zillow logerror: linear, random effects, network",
    ("zillow", "stan", "diagnostics", "tfp"),
    ("zillow.kaggle_dir",),
    outputs=(
        FileKind(
            "Zillow held-out metrics",
            ("zillow/*/heldout_metrics.json",),
            ("sampling_seconds", "prior_sampling_seconds"),
        ),
        FileKind("Zillow network metrics", ("zillow/network/metrics.json",), ("train_seconds",)),
    ),
    report_order=10,
    rule_files=("zillow_common.smk", "zillow_data.smk", "zillow_models.smk", "zillow_network.smk"),
)
