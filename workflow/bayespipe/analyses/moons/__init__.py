"""The moons analysis: rules in workflow/rules/moons.smk, results in results/<version>/moons/."""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "moons",
    "Bayesian network classifier: two moons",
    ("moons", "tfp"),
    outputs=(
        FileKind("moons metrics", ("moons/*/metrics.json",), ("train_seconds",)),
        FileKind("moons summary", ("moons/moons_metrics.csv",), ("train_seconds",)),  # CSV
    ),
    report_order=30,
)
