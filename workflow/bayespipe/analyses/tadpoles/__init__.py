"""The tadpoles analysis.

The tadpoles analysis: rules in workflow/rules/tadpoles.smk, results in results/<version>/tadpoles/.
"""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "tadpoles",
    "Tadpoles: reed-frog varying intercepts",
    ("reedfrogs", "tadpoles", "stan", "diagnostics"),
    ("reedfrogs.path",),
    outputs=(
        FileKind("tadpoles fit metrics", ("tadpoles/fit/metrics.json",), ("sampling_seconds",)),
        FileKind(
            "NUTS vs TFP HMC table",
            ("tadpoles/compare/nuts_vs_tfp_hmc.csv",),
            ("wall_seconds", "min_ess_bulk_per_second"),  # CSV columns
        ),
    ),
    report_order=20,
)
