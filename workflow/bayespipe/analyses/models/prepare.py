"""The data job of a model block.

Read the table, check it against the program's data block, split off the held-out rows, and write
the Stan data (``data/stan_data.json``) and a data card. A block whose ``data:`` is a CmdStan JSON
file (``jsondata``) is checked the same way and written in the same format, with no rows.

Everything a fit needs is checked here, before any compile or fit: a bad table fails in
seconds with the file, the column, the row and the Stan variable named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayespipe.analyses.models import jsondata
from bayespipe.analyses.models.standata import FORM_HELP, DataBuilder, split_rows
from bayespipe.analyses.models.table import read_table
from bayespipe.engines.stan.program import ProgramInfo, parse_parameters_block, program_info
from bayespipe.errors import InputError
from bayespipe.io import read_json, write_json

FORMAT = "bayespipe-model-data/1"


def resolve(path: str, root: str | Path) -> Path:
    """A path of a model block: absolute, or relative to the repository root."""
    return Path(path) if Path(path).is_absolute() else Path(root) / path


def check_block(name: str, entry: dict) -> None:
    """What a block may not say for its kind of data, before any file is read.

    A table needs ``stan_data``; a CmdStan JSON file takes only literals there and no ``heldout``.
    """
    if jsondata.is_json(entry["data"]):
        jsondata.check_block(name, entry)
    elif "stan_data" not in entry:
        raise InputError(
            None,
            f"models.{name}: missing key 'stan_data': a table ({entry['data']}) needs one entry "
            f"per data variable of the program ({FORM_HELP}); only a CmdStan JSON data file "
            "(.json) needs none",
        )


def builder(name: str, entry: dict, table_path, program_path) -> tuple[DataBuilder, ProgramInfo]:
    """The data builder of one model block (its table and program read and checked)."""
    key = f"models.{name}"
    check_block(name, entry)
    program = program_info(program_path)
    table = read_table(table_path)
    return (
        DataBuilder(table, entry["stan_data"], program, path=table_path, key=f"{key}.stan_data"),
        program,
    )


def jsonable(data: dict) -> dict:
    return {k: np.asarray(v).tolist() for k, v in data.items()}


def prepare(name: str, entry: dict, table_path, program_path, stan_data_path, card_path) -> dict:
    """Check and build the model's Stan data; write it and the data card."""
    check_block(name, entry)
    if jsondata.is_json(entry["data"]):
        return prepare_json(name, entry, table_path, program_path, stan_data_path, card_path)
    build, program = builder(name, entry, table_path, program_path)
    n_rows = len(build.table)
    heldout = entry.get("heldout")
    if heldout:
        fit_rows, heldout_rows = split_rows(n_rows, heldout["fraction"], heldout.get("seed", 1))
    else:
        fit_rows, heldout_rows = np.arange(n_rows), np.array([], dtype=int)
    fit_data = build.build(fit_rows)
    heldout_data = build.build(heldout_rows) if heldout else None
    if heldout_data is not None:
        check_heldout_parameters(name, program_path, fit_data, heldout_data)
    document = {
        "format": FORMAT,
        "model": name,
        "program": entry["program"],
        "table": entry["data"],
        "types": {v: program.data[v].base for v in fit_data},
        "sources": build.describe(),
        "rows": {"fit": (fit_rows + 1).tolist(), "heldout": (heldout_rows + 1).tolist()},
        "fit": jsonable(fit_data),
        "heldout": jsonable(heldout_data) if heldout_data is not None else None,
    }
    write_json(stan_data_path, document)
    card = {
        "model": name,
        "table": entry["data"],
        "rows": n_rows,
        "columns": list(build.table.columns),
        "fitted_rows": len(fit_rows),
        "heldout_rows": len(heldout_rows),
        "stan_data": {v: _shape_text(fit_data[v]) for v in fit_data},
        "program": entry["program"],
        "prior_predictive_run": program.has_prior_only,
        "replicated": program.replicated(),
        "log_lik": program.has_log_lik,
    }
    write_json(card_path, card)
    return card


def prepare_json(name: str, entry: dict, data_path, program_path, stan_data_path, card_path):
    """``prepare`` for a CmdStan JSON data file: no rows, so no held-out part."""
    program = program_info(program_path)
    source = jsondata.JsonData(data_path, entry.get("stan_data"), program, key=f"models.{name}")
    data = source.build()
    document = {
        "format": FORMAT,
        "model": name,
        "program": entry["program"],
        "table": entry["data"],  # the block's data file
        "types": {v: program.data[v].base for v in data},
        "sources": source.describe(),
        "rows": {"fit": [], "heldout": []},  # a JSON file has no rows
        "fit": jsonable(data),
        "heldout": None,
    }
    write_json(stan_data_path, document)
    card = {
        "model": name,
        "data": entry["data"],
        "data_format": "CmdStan JSON",
        "from_file": list(source.raw),
        "from_stan_data": list(source.block),
        "ignored_variables": source.ignored,
        "stan_data": {v: _shape_text(data[v]) for v in data},
        "program": entry["program"],
        "prior_predictive_run": program.has_prior_only,
        "replicated": program.replicated(),
        "log_lik": program.has_log_lik,
    }
    write_json(card_path, card)
    return card


def check_heldout_parameters(name: str, program_path, fit_data: dict, heldout_data: dict) -> None:
    """Refuse held-out rows when a parameter's size follows the rows.

    Held-out rows are scored with the fitted draws (vector[N] z has no draw for a new row).
    """
    declared = parse_parameters_block(Path(program_path).read_text())
    for parameter in declared.values():
        for size in parameter.sizes:
            name_of_size = size.strip()
            if name_of_size in fit_data and np.ndim(fit_data[name_of_size]) == 0:
                fitted, held = fit_data[name_of_size], heldout_data[name_of_size]
                if fitted != held:
                    raise InputError(
                        program_path,
                        f"models.{name}.heldout: parameter '{parameter.name}' is declared "
                        f"`{parameter.declaration}`, and {name_of_size} is {fitted} for the fitted "
                        f"rows but {held} for the held-out ones: held-out rows need parameters "
                        "whose sizes do not depend on the rows (use levels, counted over the "
                        "whole table), or drop heldout",
                    )


def _shape_text(value) -> str:
    shape = np.shape(value)
    return f"{value}" if not shape else "x".join(map(str, shape))


def load_stan_data(path, part: str = "fit") -> dict:
    """The Stan data written by ``prepare`` (``part``: fit or heldout), typed as declared."""
    document = read_json(path)
    if document.get("format") != FORMAT:
        raise InputError(path, f"not a model data file (expected format {FORMAT})")
    values = document[part]
    if values is None:
        raise InputError(path, f"no {part} data (the model block sets no heldout)")
    return {
        k: np.asarray(v, dtype=np.int64 if document["types"][k] == "int" else float)
        if np.ndim(v)
        else (int(v) if document["types"][k] == "int" else float(v))
        for k, v in values.items()
    }
