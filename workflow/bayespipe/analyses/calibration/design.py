"""Designs of the simulated data sets.

The fixed part of each program's data, taken from the prepared data of the tadpoles and Zillow
analyses and scaled down.

A design holds what the simulator does not draw: tank sizes (tadpoles), standardized predictor
rows and their zip groups (Zillow), and which rows miss the imputable predictor. Group sizes are
those of the prepared data times ``scale`` (at least one row, or tadpole, per non-empty group).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bayespipe.errors import InputError
from bayespipe.io import read_json, write_json

PROGRAMS = (
    "tadpoles",
    "linear_regression",
    "random_intercepts",
    "intercepts_only",
    "missing_predictor",
)
DESIGN_SEED = 16  # which rows a scaled-down zip group keeps (fixed: the design is not random)
MODEL_PREFIX = "model_"  # calibration's name of a `models:` block: model_<name>


def model_program(name: str) -> str:
    """Calibration's program name of the `models:` block ``name``."""
    return f"{MODEL_PREFIX}{name}"


def is_model(program: str) -> bool:
    return program.startswith(MODEL_PREFIX) and len(program) > len(MODEL_PREFIX)


def check_program(program: str) -> None:
    if program not in PROGRAMS and not is_model(program):
        raise ValueError(
            f"unknown program {program!r} (expected one of {', '.join(PROGRAMS)}, "
            f"or {MODEL_PREFIX}<name> for a models: block)"
        )


def _scaled(count: int, scale: float) -> int:
    return max(1, math.ceil(count * scale)) if count else 0


def _columns(frame: pd.DataFrame, path, columns: list[str]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise InputError(path, "column missing from the prepared table", column=column)


def tadpoles_design(table_path, scale: float) -> dict:
    """Every tank of the prepared reed-frog table, its density scaled."""
    frame = pd.read_parquet(table_path)
    _columns(frame, table_path, ["density"])
    density = frame["density"].to_numpy()
    if len(density) == 0 or (density < 1).any():
        raise InputError(
            table_path, "expected at least one tank, each with density >= 1", column="density"
        )
    return {
        "program": "tadpoles",
        "scale": scale,
        "density": [_scaled(int(d), scale) for d in density],
    }


def _subsample(frame: pd.DataFrame, by: list[str], scale: float) -> pd.DataFrame:
    """Keep ceil(n * scale) rows (at least one) of every cell of ``by``, seeded, order kept."""
    rng = np.random.default_rng(DESIGN_SEED)
    keep = []
    for _, cell in frame.groupby(by, sort=True):
        n = _scaled(len(cell), scale)
        keep.extend(rng.choice(cell.index.to_numpy(), size=n, replace=False))
    return frame.loc[sorted(keep)]


def zillow_design(program: str, table_path, predictors_path, scale: float) -> dict:
    """Standardized predictor rows and zip groups of the Zillow training table.

    The missing-data table for missing_predictor: there the imputable column is simulated, its mask
    kept.
    """
    info = read_json(predictors_path)
    for key in ("predictors", "n_groups", "imputable_predictor"):
        if key not in info:
            raise InputError(
                predictors_path, f"missing key '{key}' (expected the data stage's predictors.json)"
            )
    predictors, n_groups = list(info["predictors"]), int(info["n_groups"])
    frame = pd.read_parquet(table_path)
    cells = ["zip_index"]
    design = {"program": program, "scale": scale, "n_groups": n_groups}
    if program == "missing_predictor":
        mask = f"{info['imputable_predictor']}_missing"
        _columns(frame, table_path, [*predictors, "zip_index", mask])
        cells.append(mask)
        design["imputable"] = predictors.index(info["imputable_predictor"]) + 1
    else:
        _columns(frame, table_path, [*predictors, "zip_index"])
    groups = frame["zip_index"].to_numpy()
    if len(frame) == 0 or groups.min() < 1 or groups.max() > n_groups:
        raise InputError(
            table_path, f"expected rows with zip_index in 1..{n_groups}", column="zip_index"
        )
    frame = _subsample(frame, cells, scale)
    design["group"] = frame["zip_index"].astype(int).tolist()
    if program != "intercepts_only":
        x = frame[predictors].to_numpy(dtype=float).copy()  # pandas may hand out a view
        if program == "missing_predictor":
            design["missing"] = frame[cells[1]].astype(bool).tolist()
            x[:, design["imputable"] - 1] = 0.0  # simulated anyway; NaN is not JSON
        design["X"] = x.tolist()
    return design


def model_design(program: str, stan_data_path, posterior_nc, count: int) -> dict:
    """Build a `models:` block's design from its Stan data and its prior predictive run.

    The design holds ``count`` joint draws of its parameters and ``_rep`` quantities from its own
    prior predictive run (evenly spaced over the chains, so neighbouring replications do not share
    autocorrelated draws).
    """
    import arviz as az

    from bayespipe.engines.stan.program import program_info

    document = read_json(stan_data_path)
    program_file = document["program"]
    info = program_info(program_file)
    idata = az.from_netcdf(posterior_nc)
    replicated = info.replicated()
    if "prior" not in idata.groups() or not replicated:
        raise InputError(
            program_file,
            "calibration of a models: block needs a prior predictive run (int prior_only in the "
            "data block) and a <data>_rep generated quantity to simulate data sets from",
        )
    prior, predictive = idata.prior, idata.prior_predictive
    total = prior.sizes["chain"] * prior.sizes["draw"]
    if total < count:
        raise InputError(
            posterior_nc, f"{total} prior draws, but calibration needs {count} (raise prior_draws)"
        )
    picks = np.linspace(0, total - 1, count).round().astype(int)

    def flat(group, name):
        values = group[name].values
        return values.reshape(total, *values.shape[2:])[picks].tolist()

    data = document["fit"]  # lists, typed by document["types"] (the models data job's file)
    return {
        "program": program,
        "scale": 1.0,
        "stan_file": program_file,
        "data": {k: np.asarray(v).tolist() for k, v in data.items()},
        "types": document["types"],
        "replicated": replicated,
        "parameters": {name: flat(prior, name) for name in info.parameters},
        "replicates": {rep: flat(predictive, rep) for rep in replicated.values()},
    }


def make_design(
    program: str, inputs: dict, scale: float, destination, replications: int = 100
) -> dict:
    """The design of ``program`` from its prepared inputs, written as JSON."""
    check_program(program)
    if not 0 < scale <= 1:
        raise ValueError(f"calibration.scale must be in (0, 1]; got {scale}")
    if is_model(program):  # screening and confirmation replications, each its own prior draw
        design = model_design(program, inputs["stan_data"], inputs["posterior"], 2 * replications)
    elif program == "tadpoles":
        design = tadpoles_design(inputs["table"], scale)
    else:
        design = zillow_design(program, inputs["table"], inputs["predictors"], scale)
    write_json(destination, design)
    return design


def read_design(path) -> dict:
    design = read_json(path)
    program = str(design.get("program"))
    if program not in PROGRAMS and not is_model(program):
        raise InputError(path, f"not a calibration design (program {design.get('program')!r})")
    return design


def design_inputs(program: str, tadpoles_table, zillow_files: dict, model_files=None) -> dict:
    """Name the prepared files a program's design is made from (the rule's input function).

    ``model_files(name)`` gives a models: block's Stan data and fit.
    """
    check_program(program)
    if is_model(program):
        return model_files(program[len(MODEL_PREFIX) :])
    if program == "tadpoles":
        return {"table": str(tadpoles_table)}
    table = zillow_files["missing" if program == "missing_predictor" else "train"]
    return {"table": str(table), "predictors": str(zillow_files["predictors"])}


def tracked_indices(sizes, count: int = 3) -> list[int]:
    """1-based indices of the smallest, a median and the largest of ``sizes`` (distinct)."""
    sizes = np.asarray(sizes)
    if sizes.size == 0:
        return []
    order = np.argsort(sizes, kind="stable")
    picks = order[np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)]
    return sorted({int(i) + 1 for i in picks})


def describe(design: dict) -> dict:
    """Sizes of a design for calibration.json."""
    if is_model(design["program"]):
        return {
            "rows": {k: np.shape(v)[0] for k, v in design["data"].items() if np.ndim(v)},
            "prior_draws": len(next(iter(design["parameters"].values()))),
        }
    if design["program"] == "tadpoles":
        return {"tanks": len(design["density"]), "tadpoles": int(sum(design["density"]))}
    summary = {"rows": len(design["group"]), "groups": design["n_groups"]}
    if "missing" in design:
        summary["missing_rows"] = int(sum(design["missing"]))
    return summary
