"""The analyses of the workflow: name, title, config sections and raw inputs.

Each analysis writes only under ``results/<version>/<name>/`` (and its rules live in
``workflow/rules/<name>.smk``, its code in ``bayespipe.analyses.<name>``). What a job depends on
is derived from its rule, script and imports (``bayespipe.codedeps``), not declared here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    config_sections: tuple[str, ...]  # the config sections its rules read
    data_keys: tuple[str, ...] = field(default=())  # dotted config keys naming raw input files


ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            "tadpoles",
            "Tadpoles: reed-frog varying intercepts",
            ("reedfrogs", "tadpoles", "stan", "diagnostics"),
            ("reedfrogs.path",),
        ),
        Analysis(
            "zillow",
            "Zillow logerror: linear, random effects, network",
            ("zillow", "stan", "diagnostics", "tfp"),
            ("zillow.kaggle_dir",),
        ),
        Analysis("moons", "Bayesian network classifier: two moons", ("moons", "tfp")),
        Analysis(
            "sinusoid",
            "Bayesian regression network: sinusoid with epistemic band",
            ("sinusoid", "tfp"),
        ),
        Analysis(
            "mnist",
            "Bayesian LeNet-5 with Flipout on MNIST",
            ("mnist", "tfp"),
            ("mnist.npz_path",),
        ),
        Analysis(
            "calibration",
            "Simulation-based calibration of the Stan programs",
            (
                "calibration",
                "stan",
                "reedfrogs",
                "zillow",
            ),  # designs: prepared tadpoles, Zillow data
            ("reedfrogs.path", "zillow.kaggle_dir"),
        ),
    )
}

# Results of the whole version (report, code snapshot) live here.
REPORT_DIR = "report"


def title(name: str) -> str:
    """The display title of an analysis (its name when it is not a registered analysis)."""
    return ANALYSES[name].title if name in ANALYSES else name
