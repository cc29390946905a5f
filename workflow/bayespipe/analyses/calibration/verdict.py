"""Uniformity of the SBC ranks: a verdict and a figure per program, calibration.json.

Uniformity of the SBC ranks with ArviZ's simultaneous ECDF bands, a verdict per program, a figure
per program and calibration.json.

A rank r out of L thinned draws becomes the PIT value u = (r + 1) / (L + 1); under calibration u
is uniform on {1/(L+1), ..., 1}, so at the points k/(L+1) its ECDF has exactly the distribution of
a continuous uniform sample's ECDF and ArviZ's bands for U(0, 1) apply unchanged. Each quantity
is judged with ``arviz.stats.ecdf_utils.ecdf_confidence_band`` (the band ``az.plot_ecdf`` draws)
at ``1 - (1 - ci_prob) / n_quantities`` (Bonferroni), so a calibrated program passes with
probability at least ``ci_prob``. Failed fits are counted; more than ``max_failed_fraction`` of
the replications fails the program, since dropping them could hide a miscalibration.

Two stages. A calibrated program is still flagged by chance about 1 - ci_prob of the time, and a
single unlucky set of simulated data sets must not condemn a correct program, nor may anyone
re-seed until it passes. So a program flagged by its ``replications`` screening fits gets as many
confirmation fits on independent simulated data (replications R..2R-1), judged alone by the same
rule, and fails only if they are flagged too: a real error repeats, a chance excursion does not.
A calibrated program then fails with probability about (1 - ci_prob)^2, and an error found with
power p in one stage is found with power p^2; the figure and calibration.json show both stages.
"""

from __future__ import annotations

import logging
import math
import textwrap
from functools import lru_cache

import numpy as np

from bayespipe.analyses.calibration.ranks import parse_quantity
from bayespipe.errors import InputError
from bayespipe.figures import pyplot, save_figure
from bayespipe.io import read_json, write_json

logger = logging.getLogger(__name__)

BATCH_FORMAT = "bayespipe-calibration-batch/1"  # what batch.run_batch writes
MAX_EVAL_POINTS = 100
BAND_METHOD = "optimized"  # ArviZ's algorithm for simultaneous bands (Säilynoja et al. 2022)


# --- reading batches -------------------------------------------------------------------------
def load_batches(paths, replications: int) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Program -> its replication records, and program -> what ran them.

    Program -> its replication records in order (checked complete and without duplicates), and
    program -> engine, Stan file and the batches' summed wall and CPU seconds.
    """
    by_program: dict[str, dict[int, dict]] = {}
    meta: dict[str, dict] = {}
    for path in paths:
        batch = read_json(path)
        if batch.get("format") != BATCH_FORMAT:
            raise InputError(path, f"not a calibration batch (format {BATCH_FORMAT})")
        records = by_program.setdefault(batch["program"], {})
        totals = meta.setdefault(
            batch["program"],
            {
                "seconds": 0.0,
                "cpu_seconds": 0.0,
                "engine": batch["engine"],
                "stan_file": batch["stan_file"],
            },
        )
        totals["seconds"] += batch["seconds"]
        totals["cpu_seconds"] += batch.get("cpu_seconds", 0.0)
        for record in batch["replications"]:
            if record["replication"] in records:
                raise InputError(path, f"replication {record['replication']} appears twice")
            records[record["replication"]] = record
    result = {}
    for program, records in by_program.items():
        present = set(records)
        stages = 2 if max(present) >= replications else 1
        missing = sorted(set(range(stages * replications)) - present)
        if missing:
            raise ValueError(f"{program}: replications {missing[:5]} missing from the batches")
        extra = sorted(present - set(range(stages * replications)))
        if extra:
            raise ValueError(f"{program}: replications {extra[:5]} beyond the two stages")
        result[program] = [records[r] for r in sorted(records)]
    return result, meta


# --- uniformity ------------------------------------------------------------------------------
def pit_values(ranks, draws: int) -> np.ndarray:
    """PIT values (r + 1) / (L + 1) of ranks r in 0..L."""
    ranks = np.asarray(ranks)
    if ranks.size and (ranks.min() < 0 or ranks.max() > draws):
        raise ValueError(f"ranks must lie in 0..{draws}")
    return (ranks + 1) / (draws + 1)


def eval_points(draws: int, max_points: int = MAX_EVAL_POINTS) -> np.ndarray:
    """Points where the ECDF of discrete PIT values matches a continuous uniform's.

    Points k/(L+1), k = 1..L (at most ``max_points``, evenly spread), where the ECDF of the discrete
    PIT values matches a continuous uniform's.
    """
    steps = np.arange(1, draws + 1)
    if len(steps) > max_points:
        steps = np.unique(np.linspace(1, draws, max_points).round().astype(int))
    return steps / (draws + 1)


def quantity_prob(ci_prob: float, n_quantities: int) -> float:
    """Band probability per quantity so that all pass together with probability >= ci_prob."""
    return 1 - (1 - ci_prob) / max(1, n_quantities)


@lru_cache(maxsize=32)
def _band(n: int, points: tuple, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's simultaneous band for the ECDF of n uniform values.

    Shared by all quantities of a program: same n, points and probability.
    """
    from arviz.stats.ecdf_utils import ecdf_confidence_band

    grid = np.asarray(points)
    return ecdf_confidence_band(n, grid, grid, prob=prob, method=BAND_METHOD)


def uniformity(pit: np.ndarray, points: np.ndarray, prob: float) -> dict:
    """Whether the ECDF of ``pit`` stays inside ArviZ's simultaneous ``prob`` band."""
    from arviz.stats.ecdf_utils import compute_ecdf

    ecdf = compute_ecdf(np.sort(pit), points)
    lower, upper = _band(len(pit), tuple(points), prob)
    excess = np.maximum(np.maximum(lower - ecdf, ecdf - upper), 0.0)
    return {
        "inside_band": bool((excess <= 1e-12).all()),
        "max_excess": round(float(excess.max()), 4),
        "max_ecdf_difference": round(float(np.abs(ecdf - points).max()), 4),
        "mean_pit": round(float(pit.mean()), 4),
    }


# --- verdict ---------------------------------------------------------------------------------
def _ok_ranks(records: list[dict]) -> tuple[dict[str, list[int]], int]:
    ok = [r for r in records if r["status"] == "ok"]
    sizes = {r["draws"] for r in ok}
    if len(sizes) > 1:
        raise ValueError(f"replications ranked among different numbers of draws {sorted(sizes)}")
    names = sorted(ok[0]["ranks"], key=parse_quantity) if ok else []  # beta[2] before beta[10]
    return {n: [r["ranks"][n] for r in ok] for n in names}, (sizes.pop() if sizes else 0)


def program_verdict(
    records: list[dict], *, ci_prob: float, max_failed_fraction: float, min_replications: int = 10
) -> dict:
    """pass / fail of one program from its replication records, with the reasons."""
    ranks, draws = _ok_ranks(records)
    failed = [r for r in records if r["status"] != "ok"]
    completed = len(records) - len(failed)
    prob = quantity_prob(ci_prob, len(ranks))
    points = eval_points(draws) if draws else np.zeros(0)
    quantities = (
        {
            name: uniformity(pit_values(values, draws), points, prob)
            for name, values in ranks.items()
        }
        if completed
        else {}
    )
    reasons = []
    if len(failed) > max_failed_fraction * len(records):
        reasons.append(
            f"{len(failed)} of {len(records)} fits failed "
            f"(max_failed_fraction {max_failed_fraction})"
        )
    if completed < min_replications:
        reasons.append(f"only {completed} completed replications (need {min_replications})")
    outside = [name for name, q in quantities.items() if not q["inside_band"]]
    if outside:
        reasons.append("ECDF outside the simultaneous band: " + ", ".join(outside))
    return {
        "verdict": "fail" if reasons else "pass",
        "reasons": reasons,
        "replications": len(records),
        "completed": completed,
        "failed_fits": len(failed),
        "failed_errors": [r["error"].splitlines()[-1][:300] for r in failed][:5],
        "fits_with_divergences": sum(1 for r in records if r.get("divergences")),
        # thinned draws more than the ESS: autocorrelated ranks (thin more before blaming Stan)
        "fits_with_ess_below_draws": sum(
            1 for r in records if r["status"] == "ok" and r.get("min_ess", draws) < draws
        ),
        "draws_per_rank": draws,
        "ci_prob": ci_prob,
        "quantity_ci_prob": round(prob, 6),
        "band_method": BAND_METHOD,
        "quantities": quantities,
        "fit_seconds": round(sum(r["seconds"] for r in records), 2),
    }


def stages(records: list[dict], replications: int) -> tuple[list[dict], list[dict]]:
    """(screening, confirmation) records: replications 0..R-1 and R..2R-1."""
    return (
        [r for r in records if r["replication"] < replications],
        [r for r in records if r["replication"] >= replications],
    )


def judge(records: list[dict], settings: dict) -> dict:
    """The two-stage verdict of one program (see the module docstring).

    The screening evidence stays at the top level, after the keys a reader wants first:
    ``screening`` is pass or flagged, ``confirmation`` one of not needed, off
    (``settings["confirm"]`` false: the screening verdict is final), pending (flagged,
    confirmation fits not run yet), pass or fail, with ``confirmation_result`` holding its evidence.
    """
    rules = {
        "ci_prob": settings["ci_prob"],
        "max_failed_fraction": settings["max_failed_fraction"],
    }
    screening, confirmation = stages(records, settings["replications"])
    first = program_verdict(screening, **rules)
    if first["verdict"] == "pass":
        return {"verdict": "pass", "screening": "pass", "confirmation": "not needed", **first}
    flagged = {"screening": "flagged", "reasons": first["reasons"]}
    if not settings.get("confirm", True):
        return {"verdict": "fail", **flagged, "confirmation": "off", **first}
    if not confirmation:
        return {"verdict": "pending", **flagged, "confirmation": "pending", **first}
    second = program_verdict(confirmation, **rules)
    if second["verdict"] == "pass":
        outcome = {
            "verdict": "pass",
            "reasons": [],
            "note": f"flagged in screening ({'; '.join(first['reasons'])}); not confirmed on "
            f"{len(confirmation)} independent replications",
        }
    else:
        outcome = {
            "verdict": "fail",
            "reasons": [f"screening: {r}" for r in first["reasons"]]
            + [f"confirmation: {r}" for r in second["reasons"]],
        }
    return {
        "verdict": outcome["verdict"],
        "screening": "flagged",
        "confirmation": second["verdict"],
        **first,
        **outcome,
        "confirmation_result": second,
    }


def needs_confirmation(result: dict) -> bool:
    return result["confirmation"] == "pending"


def screen(batch_paths, settings: dict, path) -> dict:
    """The screening file: program -> its screening verdict and whether confirmation fits must run.

    The workflow writes one per program.
    """
    by_program, _ = load_batches(batch_paths, settings["replications"])
    screened = {}
    for program, records in by_program.items():
        result = judge(records, settings)
        screened[program] = {
            "screening": result["screening"],
            "reasons": result["reasons"],
            "confirm": needs_confirmation(result),
        }
    write_json(path, screened)
    return screened


def to_confirm(screen_path) -> list[str]:
    """Programs whose confirmation fits must run, from a screening file."""
    return sorted(p for p, s in read_json(screen_path).items() if s["confirm"])


# --- figure ----------------------------------------------------------------------------------
STAGE_STYLE = {"screening": "C0", "confirmation": "C1"}


def plot_program(program: str, records: list[dict], result: dict, path, replications: int):
    """ECDF-difference plot of every quantity's PIT values with ArviZ's simultaneous band.

    A confirmation stage is drawn over the screening one (same n, so the same band).
    """
    import arviz as az
    from scipy.stats import uniform

    plt = pyplot()

    by_stage = dict(zip(("screening", "confirmation"), stages(records, replications), strict=True))
    stage_ranks = {name: _ok_ranks(rows) for name, rows in by_stage.items() if rows}
    ranks, draws = stage_ranks["screening"]
    names = list(ranks) or ["(no completed fit)"]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for number, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):  # axes >= names
        outside = []
        for stage, (values, size) in stage_ranks.items():
            if name not in values:
                continue
            evidence = result if stage == "screening" else result["confirmation_result"]
            az.plot_ecdf(
                pit_values(values[name], size),
                eval_points=eval_points(size),
                cdf=uniform(0, 1).cdf,
                confidence_bands=BAND_METHOD,
                ci_prob=evidence["quantity_ci_prob"],
                difference=True,
                # the confirmation band is (nearly) the screening one: drawn once
                fill_kwargs={"alpha": 0.2 if stage == "screening" else 0.0},
                plot_kwargs={"color": STAGE_STYLE[stage], "label": stage},
                ax=ax,
            )
            if not evidence["quantities"][name]["inside_band"]:
                outside.append(stage)
        title = f"{name}: outside in {' and '.join(outside)}" if outside else name
        ax.set_title(title, color="red" if outside else "black", fontsize=10)
        ax.set_xlabel("PIT of rank")
        ax.set_ylabel("ECDF - uniform CDF" if number % cols == 0 else "")
    if len(stage_ranks) > 1:
        axes.flat[0].legend(fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    stage_text = (
        f"screening {result['screening']}, confirmation {result['confirmation']}"
        if result["screening"] == "flagged"
        else "screening pass"
    )
    details = (
        f"{stage_text}; {result['completed']} of {result['replications']} screening fits, "
        f"{result['failed_fits']} failed; {result['ci_prob']:.0%} joint band"
    )
    wrapped = textwrap.fill(details, width=max(40, int(27 * cols)))
    fig.suptitle(f"{program}: {result['verdict'].upper()}\n{wrapped}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=100, bbox_inches=None)


# --- everything ------------------------------------------------------------------------------
def summarize(
    batch_paths, settings: dict, json_path, figures: dict, designs: dict | None = None
) -> dict:
    """calibration.json (program -> verdict and its evidence) and one figure per program."""
    by_program, meta = load_batches(batch_paths, settings["replications"])
    absent = sorted(set(figures) - set(by_program))
    if absent:
        raise ValueError(f"no batches for program(s) {', '.join(absent)}")
    programs = {}
    for program, records in by_program.items():
        result = judge(records, settings)
        if needs_confirmation(result):
            raise ValueError(
                f"{program}: flagged in screening but its confirmation batches are missing"
            )
        result.update(
            seconds=round(meta[program]["seconds"], 2),
            cpu_seconds=round(meta[program]["cpu_seconds"], 2),
            engine=meta[program]["engine"],
            stan_file=meta[program]["stan_file"],
        )
        if designs and program in designs:
            result["design"] = designs[program]
        programs[program] = result
        if program in figures:
            plot_program(program, records, result, figures[program], settings["replications"])
        logger.info(
            "%s: %s (screening %s, confirmation %s) %s",
            program,
            result["verdict"],
            result["screening"],
            result["confirmation"],
            "; ".join(result["reasons"]) or result.get("note", ""),
        )
    write_json(json_path, programs)
    return programs
