"""The sinusoid analysis.

The sinusoid analysis: rules in workflow/rules/sinusoid.smk, results in results/<version>/sinusoid/.
"""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "sinusoid",
    "Bayesian regression network: sinusoid with epistemic band",
    ("sinusoid", "tfp"),
    outputs=(
        FileKind(
            "sinusoid metrics",
            ("sinusoid/*/metrics.json", "sinusoid/sinusoid_metrics.csv"),
            ("train_seconds",),  # also the summary CSV's column
        ),
    ),
    report_order=40,
)
