"""The analyses of the workflow and what each one's results depend on.

Each analysis writes only under ``results/<version>/<name>/``. Its digest covers the config
sections and code files listed here plus the shared core, its raw input data and the software
versions; an analysis whose digest matches one in an earlier complete version is reused from
there (hard links) instead of recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    config_sections: tuple[str, ...]
    code: tuple[str, ...]  # globs relative to the repository root
    data_keys: tuple[str, ...] = field(default=())  # dotted config keys naming raw input files


# Code every analysis depends on: the entry point, shared rule helpers and the package's
# top-level modules (audit, reporting and the CLI live in subpackages and are excluded).
CORE_CODE = (
    "Snakefile",
    "workflow/rules/common.smk",
    "workflow/bayespipe/*.py",
    "workflow/schemas/**/*.yaml",
)

STAN_CODE = ("workflow/bayespipe/engines/stan/*.py",)
TFP_CODE = ("workflow/bayespipe/engines/tfp/*.py",)

ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            "tadpoles",
            "Tadpoles: reed-frog varying intercepts",
            ("reedfrogs", "tadpoles", "stan", "diagnostics"),
            (
                "workflow/rules/tadpoles.smk",
                "workflow/scripts/tadpoles_*.py",
                "workflow/scripts/reedfrogs_*.py",
                "workflow/scripts/stan_*.py",
                "workflow/bayespipe/analyses/tadpoles/*.py",
                "stan/tadpoles.stan",
                *STAN_CODE,
                *TFP_CODE,
            ),
            ("reedfrogs.path",),
        ),
        Analysis(
            "zillow",
            "Zillow logerror: linear, random effects, network",
            ("zillow", "stan", "diagnostics", "tfp"),
            (
                "workflow/rules/zillow*.smk",
                "workflow/scripts/zillow_*.py",
                "workflow/scripts/stan_*.py",
                "workflow/bayespipe/analyses/zillow/*.py",
                "stan/linear_regression.stan",
                "stan/random_intercepts.stan",
                "stan/intercepts_only.stan",
                "stan/missing_predictor.stan",
                *STAN_CODE,
                *TFP_CODE,
            ),
            ("zillow.kaggle_dir",),
        ),
        Analysis(
            "moons",
            "Bayesian network classifier: two moons",
            ("moons", "tfp"),
            (
                "workflow/rules/moons.smk",
                "workflow/scripts/moons_*.py",
                "workflow/bayespipe/analyses/moons/*.py",
                *TFP_CODE,
            ),
        ),
        Analysis(
            "sinusoid",
            "Bayesian regression network: sinusoid with epistemic band",
            ("sinusoid", "tfp"),
            (
                "workflow/rules/sinusoid.smk",
                "workflow/scripts/sinusoid_*.py",
                "workflow/bayespipe/analyses/sinusoid/*.py",
                *TFP_CODE,
            ),
        ),
        Analysis(
            "mnist",
            "Bayesian LeNet-5 with Flipout on MNIST",
            ("mnist", "tfp"),
            (
                "workflow/rules/mnist.smk",
                "workflow/scripts/mnist_*.py",
                "workflow/bayespipe/analyses/mnist/*.py",
                *TFP_CODE,
            ),
            ("mnist.npz_path",),
        ),
    )
}

# Results of the whole version (report, RO-Crate) live here and are always rebuilt.
REPORT_DIR = "report"
