"""The mnist analysis: rules in workflow/rules/mnist.smk, results in results/<version>/mnist/."""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "mnist",
    "Bayesian LeNet-5 with Flipout on MNIST",
    ("mnist", "tfp"),
    ("mnist.npz_path",),
    outputs=(
        FileKind(
            "LeNet metrics",
            ("mnist/train/metrics.json",),
            ("train_seconds", "images_per_second", "evaluations.*.evaluation_seconds"),
        ),
        FileKind("LeNet evaluations", ("mnist/train/evaluations.csv",), ("evaluation_seconds",)),
    ),
    report_order=50,
)
