"""Model comparisons: PSIS-LOO of several model blocks fitted to the same data points.

A ``comparisons:`` config entry names two or more ``models:`` blocks; each gets
``results/<version>/models/comparisons/<name>/`` with ``compare.csv`` (ArviZ ``compare``, LOO,
stacking weights), ``compare.png`` (``plot_compare``) and ``compare.json`` (the leader, the
runner-up, whether the difference is decisive, the weights, the blocks whose LOO is unreliable
and a one-line headline).

What can be checked before any fit is checked when the workflow is parsed
(``check_comparisons``): every named block exists and its program computes ``log_lik``, and the
``log_lik`` sizes that the programs' declarations and the blocks' data resolve to agree. A size
that cannot be resolved then (an expression, a column the data job builds) is checked by the
comparison job itself from the fitted log-likelihoods (``check_counts``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from bayespipe.analyses.models.prepare import resolve
from bayespipe.analyses.models.standata import split_rows
from bayespipe.engines.stan.program import parse_generated_block
from bayespipe.errors import ConfigError, InputError
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import atomic_path, read_json, write_json

LOG_LIK = "log_lik"
COLUMNS = ("rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight", "warning", "scale")
MAX_PARETO_K = 0.7  # above it PSIS-LOO is unreliable for that data point (models_loo's gate)
RESERVED = "comparisons"  # results/<v>/models/comparisons/: no block may be named so
INTEGER = re.compile(r"^\d+$")


# Before any fit: names, log_lik, sizes.


def check_comparisons(comparisons: dict, blocks: dict, programs: dict, root) -> None:
    """Refuse, naming the comparison and its blocks, what would fail after the fits.

    ``blocks``: the ``models:`` config blocks; ``programs``: block name -> its ``ProgramInfo``.
    """
    if comparisons and RESERVED in blocks:
        raise ConfigError(
            f"models.{RESERVED}: the name is reserved for the comparisons' results "
            f"(results/<version>/models/{RESERVED}/); rename the block"
        )
    for name, names in comparisons.items():
        key = f"comparisons.{name}"
        unknown = [b for b in names if b not in blocks]
        if unknown:
            raise ConfigError(
                f"{key} names {', '.join(unknown)}, which no models: block defines "
                f"(blocks: {', '.join(blocks) or 'none'})"
            )
        without = [b for b in names if not programs[b].has_log_lik]
        if without:
            raise ConfigError(
                f"{key}: the program of {', '.join(without)} "
                f"({', '.join(blocks[b]['program'] for b in without)}) computes no log_lik, which "
                "PSIS-LOO needs: declare `vector[N] log_lik;` in its generated quantities (one "
                "log density per data point), or leave the block out of the comparison"
            )
        counts = {b: declared_count(blocks[b], root) for b in names}
        check_counts(name, {b: n for b, n in counts.items() if n is not None})


def check_counts(name: str, counts: dict[str, int]) -> None:
    """Refuse blocks whose log_lik sizes differ: LOO compares the same data points."""
    if len(set(counts.values())) > 1:
        sizes = ", ".join(f"{block}: {count}" for block, count in counts.items())
        raise ConfigError(
            f"comparisons.{name}: the blocks' log_lik sizes differ ({sizes}); PSIS-LOO compares "
            "models on the same data points, one log_lik element each"
        )


def declared_count(entry: dict, root) -> int | None:
    """How many elements ``log_lik`` has for a block, from its declaration and the block's data.

    None when that is not known before the data job: the declaration is not read, or a size is
    an expression or comes from something else than ``rows``, a literal, ``{levels: COLUMN}`` or
    a value of a JSON data file.
    """
    try:
        text = resolve(entry["program"], root).read_text()
    except OSError:
        return None
    declared = parse_generated_block(text).get(LOG_LIK)
    if declared is None:
        return None
    count = 1
    for expression in declared.sizes:
        size = _size(expression.strip(), entry, root)
        if size is None:
            return None
        count *= size
    return count


def _size(expression: str, entry: dict, root) -> int | None:
    if INTEGER.match(expression):
        return int(expression)
    data = resolve(entry["data"], root)
    stan_data = entry.get("stan_data") or {}
    json_file = data.suffix.lower() == ".json"  # CmdStan JSON data: values, no rows
    try:
        if expression in stan_data:
            form = stan_data[expression]
            return _whole(form) if json_file else _size_of_form(form, data, entry.get("heldout"))
        if json_file and not entry.get("heldout"):
            return _whole(json.loads(data.read_text()).get(expression))
    except (OSError, ValueError, KeyError, ImportError, InputError, AttributeError):
        return None  # the data job names what is wrong with the data
    return None


def _size_of_form(form, data: Path, heldout: dict | None) -> int | None:
    if form == "rows":
        rows = _table_rows(data)
        if heldout:
            rows = len(split_rows(rows, heldout["fraction"], heldout.get("seed", 1))[0])
        return rows
    if isinstance(form, dict) and set(form) == {"levels"} and isinstance(form["levels"], str):
        return _levels(data, form["levels"])  # levels count the whole table, held-out rows too
    return _whole(form)


def _whole(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() and value >= 0 else None


def _table_rows(path: Path) -> int:
    """Rows of a table as ``table.read_table`` counts them, reading one column only."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return len(pd.read_csv(path, usecols=[0], skipinitialspace=True))


def _levels(path: Path, column: str) -> int | None:
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path, columns=[column])
    else:
        frame = pd.read_csv(path, usecols=lambda c: str(c).strip() == column, skipinitialspace=True)
    if frame.shape[1] != 1:
        return None
    text = frame.iloc[:, 0].astype("string").str.strip()
    if (text.isna() | (text == "")).any():
        return None
    return int(text.nunique())


# The comparison job.


def log_lik_counts(fits: dict) -> dict[str, int]:
    """Block -> number of log_lik elements per draw in its InferenceData."""
    counts = {}
    for block, idata in fits.items():
        if "log_likelihood" not in idata.groups() or LOG_LIK not in idata.log_likelihood:
            raise InputError(None, f"block {block}: its posterior has no log_likelihood {LOG_LIK}")
        sizes = idata.log_likelihood[LOG_LIK].sizes
        counts[block] = math.prod(n for dim, n in sizes.items() if dim not in ("chain", "draw"))
    return counts


def compare_fits(name: str, fits: dict) -> pd.DataFrame:
    """ArviZ ``compare`` (PSIS-LOO, stacking weights) of block -> InferenceData, index = block."""
    import arviz as az

    check_counts(name, log_lik_counts(fits))
    table = az.compare(fits, ic="loo", method="stacking", var_name=LOG_LIK)
    table = table[list(COLUMNS)]
    table.index.name = "block"
    return table


def summarize(
    name: str, blocks: list[str], table: pd.DataFrame, pareto_k_max: dict[str, float]
) -> dict:
    """What the report needs of one comparison (``compare.json``)."""
    ranked = table.sort_values("rank")
    leader, runner_up = ranked.index[0], ranked.index[1]
    elpd_diff = float(ranked.loc[runner_up, "elpd_diff"])
    dse = float(ranked.loc[runner_up, "dse"])
    decisive = bool(elpd_diff > 2 * dse)
    weights = ranked["weight"].astype(float)
    weights = weights / weights.sum()
    unreliable = [b for b in blocks if pareto_k_max[b] > MAX_PARETO_K]
    return {
        "name": name,
        "blocks": list(blocks),
        "ranking": list(ranked.index),
        "ic": "loo",
        "method": "stacking",
        "scale": str(ranked["scale"].iloc[0]),
        "leader": leader,
        "runner_up": runner_up,
        "elpd_diff": elpd_diff,
        "dse": dse,
        "decisive": decisive,
        "weights": {b: float(w) for b, w in weights.items()},
        "elpd_loo": {b: float(v) for b, v in ranked["elpd_loo"].items()},
        "se": {b: float(v) for b, v in ranked["se"].items()},
        "p_loo": {b: float(v) for b, v in ranked["p_loo"].items()},
        "pareto_k_max": {b: float(pareto_k_max[b]) for b in blocks},
        "unreliable": unreliable,
        "headline": headline(leader, runner_up, elpd_diff, dse, unreliable),
    }


def headline(
    leader: str, runner_up: str, elpd_diff: float, dse: float, unreliable: list[str]
) -> str:
    """One sentence: who leads, by how much, and whether that is more than twice its se."""
    verdict = "more than" if elpd_diff > 2 * dse else "not more than"
    text = (
        f"{leader} is ahead of {runner_up} by {_plain(elpd_diff)} elpd (se of the difference "
        f"{_plain(dse)}): {verdict} twice its standard error"
    )
    if unreliable:
        text += f"; PSIS-LOO is unreliable for {', '.join(unreliable)} (Pareto k above 0.7)"
    return text + "."


def _plain(value: float) -> str:
    """1 decimal from 1 up, 2 below (0.3, 0.05, 4.0, 12.3)."""
    if abs(value) >= 0.995:
        return f"{value:.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def figure(name: str, table: pd.DataFrame, path) -> None:
    """``plot_compare``: each block's elpd_loo with its se, differences to the leader."""
    import arviz as az

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 1.4 + 0.7 * len(table)), layout="constrained")
    az.plot_compare(table, ax=ax, plot_ic_diff=True, legend=True, title=False)
    weights = table["weight"]
    ax.set_yticklabels(
        [
            f"{label}\nweight {weights[label]:.2f}" if label in weights.index else label
            for label in (tick.get_text() for tick in ax.get_yticklabels())
        ]
    )
    ax.set_title(f"{name}: PSIS-LOO, higher elpd is better (stacking weights under the names)")
    save_figure(fig, path)


def compare(
    name: str,
    blocks: list[str],
    posteriors: list,
    loos: list,
    table_path,
    figure_path,
    json_path,
) -> dict:
    """Compare the blocks' fits (their ``posterior.nc``, in ``blocks`` order); write the files.

    ``loos``: each block's ``loo.json`` (its Pareto k).
    """
    import arviz as az

    if len(posteriors) != len(blocks) or len(loos) != len(blocks):
        raise ValueError(f"comparison {name}: one posterior and one loo.json per block expected")
    fits = {b: az.from_netcdf(p) for b, p in zip(blocks, posteriors, strict=True)}
    table = compare_fits(name, fits)
    # The blocks' own loo.json (models_loo) already hold their Pareto k: not computed again.
    pareto_k_max = {
        b: float(read_json(p)["pareto_k"]["max"]) for b, p in zip(blocks, loos, strict=True)
    }
    with atomic_path(table_path) as tmp:
        table.to_csv(tmp)
    figure(name, table, figure_path)
    summary = summarize(name, blocks, table, pareto_k_max)
    write_json(json_path, summary)
    return summary
