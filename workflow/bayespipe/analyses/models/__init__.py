"""The models analysis: your own Stan programs and tables, no code written.

One ``models:`` config block each. Rules in workflow/rules/models.smk, results in
results/<version>/models/<model>/.

For each block: the table is checked against the program's data block and the Stan data built
(``prepare``, ``standata``), the program compiled and fitted with the prior predictive run
(``fit``), then posterior predictive checks, PSIS-LOO and held-out scores (``checks``). The
``comparisons:`` config section compares blocks by PSIS-LOO (``compare``), in
results/<version>/models/comparisons/<name>/.
"""

from bayespipe.declaration import Analysis, FileKind

ANALYSIS = Analysis(
    "models",
    "Your models: Stan programs from config blocks",
    ("models", "comparisons", "stan", "diagnostics"),
    ("models.*.data", "models.*.program"),
    outputs=(FileKind("model fit metrics", ("models/*/metrics.json",), ("sampling_seconds",)),),
    report_order=60,
    rule_files=("models_common.smk", "models.smk"),
)
