"""The calibration analysis: simulation-based calibration (SBC) of every Stan program.

Rules in workflow/rules/calibration.smk, results in results/<version>/calibration/. For each
program: a design from the prepared data (``design``), parameters drawn from the prior and data
simulated from the program's own data block (``simulate``), fits in batches with the configured
engine and the rank of each true value among thinned posterior draws (``batch``, ``ranks``), then
uniformity of the ranks judged with ArviZ's simultaneous ECDF bands (``verdict``).
"""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "calibration",
    "Simulation-based calibration of the Stan programs",
    # Designs come from the prepared tadpoles and Zillow data; own models from their blocks.
    ("calibration", "stan", "reedfrogs", "zillow", "models"),
    ("reedfrogs.path", "zillow.kaggle_dir"),
    outputs=(
        FileKind(
            "calibration batch",
            ("calibration/batches/*/*.json",),
            ("seconds", "cpu_seconds", "replications.*.seconds", "replications.*.sampling_seconds"),
        ),
        FileKind(
            "calibration summary",
            ("calibration/calibration.json",),
            ("*.seconds", "*.cpu_seconds", "*.fit_seconds", "*.confirmation_result.fit_seconds"),
        ),
    ),
    report_order=90,
)
