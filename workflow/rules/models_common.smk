# Helpers of workflow/rules/models.smk (your own models from `models:` config blocks).

import re

from bayespipe.analyses.calibration import design as calibration_design

from bayespipe.analyses.models import compare as model_compare
from bayespipe.analyses.models.prepare import check_block as check_model_block
from bayespipe.analyses.models.prepare import resolve as resolve_model_path
from bayespipe.engines.stan.outputs import FIT_FILES
from bayespipe.engines.stan.program import program_info

CALIBRATED_MODELS = config["calibration"]["models"] if "calibration" in ENABLED else []
unknown = sorted(set(CALIBRATED_MODELS) - set(config["models"]))
if unknown:
    raise ValueError(
        f"calibration.models names {', '.join(unknown)}, which no models: block defines"
    )
# The blocks whose rules can run: every block when the analysis runs, the calibrated ones
# (their data and prior predictive runs make the simulated data sets) when only calibration does.
MODELS = {
    name: block
    for name, block in config["models"].items()
    if "models" in ENABLED or name in CALIBRATED_MODELS
}
# A block that cannot work (heldout with a JSON data file...) stops the run before any job.
for _model, _block in MODELS.items():
    check_model_block(_model, _block)
MODELS_CATEGORY = ANALYSES["models"].title
MODEL_NAMES = "|".join(map(re.escape, MODELS)) or "(?!)"
MODEL_PROGRAMS = {
    name: program_info(resolve_model_path(entry["program"], ROOT))
    for name, entry in MODELS.items()
}
# Comparisons by PSIS-LOO (part of the models analysis): unknown blocks, a block without log_lik
# and log_lik sizes that differ are refused here, before any job; a size known only from the
# fits is checked by the comparison job.
COMPARISONS = config["comparisons"] if "models" in ENABLED else {}
model_compare.check_comparisons(COMPARISONS, MODELS, MODEL_PROGRAMS, ROOT)
COMPARISON_NAMES = "|".join(map(re.escape, COMPARISONS)) or "(?!)"


def model_out(path):
    return out("models", f"{{model}}/{path}")


def model_path(path):
    """A block's path for an input: relative to the repository root inside it, else absolute.

    Symlinks are kept as written (``reproduce`` links raw inputs into its scratch checkout).
    """
    resolved = Path(os.path.abspath(resolve_model_path(path, ROOT)))
    root = Path(os.path.abspath(ROOT))
    return (
        str(resolved.relative_to(root))
        if resolved.is_relative_to(root)
        else str(resolved)
    )


def model_table(wildcards):
    return model_path(MODELS[wildcards.model]["data"])


def model_program(wildcards):
    return model_path(MODELS[wildcards.model]["program"])


def model_data_block(wildcards):
    """What a block's data and fit need of it besides the sampler: a changed seed or reference
    reruns neither its data job nor its compile."""
    block = MODELS[wildcards.model]
    return {
        k: block[k] for k in ("program", "data", "stan_data", "heldout") if k in block
    }


def model_sampler(wildcards):
    return MODELS[wildcards.model].get("sampler", {})


def model_cpus(wildcards):
    return chains_at_once(model_sampler(wildcards))


def model_targets(name):
    """Every file one model block produces: the checks its program and block allow."""
    program, entry = MODEL_PROGRAMS[name], MODELS[name]
    # Looked up when called, after models.smk has defined the rules.
    rule_outputs = [rules.models_data, rules.models_stan_compile, rules.models_fit]
    if program.replicated():
        rule_outputs.append(rules.models_ppc)
    if program.has_log_lik:
        rule_outputs.append(rules.models_loo)
    if entry.get("heldout"):
        rule_outputs.append(rules.models_heldout)
    return [
        str(path).replace("{model}", name)
        for each in rule_outputs
        for path in each.output
    ]


def comparison_out(path):
    return out("models", f"comparisons/{{comparison}}/{path}")


def comparison_inputs(wildcards):
    """Only the compared blocks' fits and LOO, in the comparison's order."""
    blocks = COMPARISONS[wildcards.comparison]
    return {
        "posteriors": [out("models", f"{block}/posterior.nc") for block in blocks],
        "loo": [out("models", f"{block}/loo.json") for block in blocks],
    }


def comparison_blocks(wildcards):
    return list(COMPARISONS[wildcards.comparison])


def comparison_targets(name):
    return [
        str(path).replace("{comparison}", name) for path in rules.models_compare.output
    ]


def calibration_stan_file(wildcards):
    """The Stan program of a calibrated program: stan/<program>.stan, or a models: block's."""
    if calibration_design.is_model(wildcards.program):
        name = wildcards.program[len(calibration_design.MODEL_PREFIX) :]
        return model_path(MODELS[name]["program"])
    return f"stan/{wildcards.program}.stan"


def model_calibration_files(name):
    """What a models: block's calibration design is made from: its data and its fit."""
    return {
        "stan_data": out("models", f"{name}/data/stan_data.json"),
        "posterior": out("models", f"{name}/posterior.nc"),
    }
