"""One batch of SBC replications of one program: simulate, fit, rank; failures recorded.

Replication r of a program always gets the same simulation and sampler seeds, whatever the batch
size, so results do not depend on how the work was split into jobs. A fit the engine cannot
complete (StanEngineError) is kept as a failed replication with Stan's message, never dropped.
"""

from __future__ import annotations

import hashlib
import logging
import math
import resource
import time
from pathlib import Path

import numpy as np

from bayespipe.analyses.calibration import ranks as rank_module
from bayespipe.analyses.calibration.design import PROGRAMS, check_program, read_design
from bayespipe.analyses.calibration.simulate import simulate
from bayespipe.analyses.calibration.verdict import BATCH_FORMAT
from bayespipe.engines.stan.engine import StanEngineError, get_engine
from bayespipe.io import write_json

logger = logging.getLogger(__name__)



def batch_count(replications: int, batch_size: int) -> int:
    """Batches of one stage (screening or confirmation)."""
    if replications < 1 or batch_size < 1:
        raise ValueError("calibration.replications and calibration.batch_size must be >= 1")
    return math.ceil(replications / batch_size)


def confirmation_batches(replications: int, batch_size: int) -> range:
    """Batch numbers of the confirmation stage: they follow the screening batches."""
    count = batch_count(replications, batch_size)
    return range(count, 2 * count)


def batch_replications(batch: int, replications: int, batch_size: int) -> range:
    """Replication numbers of batch ``batch`` (0-based).

    Screening batches hold replications 0..R-1; confirmation batches hold R..2R-1, whose data and
    seeds are independent of them.
    """
    count = batch_count(replications, batch_size)
    if not 0 <= batch < 2 * count:
        raise ValueError(f"batch {batch} outside 0..{2 * count - 1}")
    stage, position = divmod(batch, count)
    start = stage * replications + position * batch_size
    return range(start, min(start + batch_size, (stage + 1) * replications))


def replication_rng(seed: int, program: str, replication: int) -> np.random.Generator:
    if program in PROGRAMS:
        return np.random.default_rng([seed, PROGRAMS.index(program), replication])
    # A models: block: a stable number of its own name (Python's hash() changes per process).
    number = int.from_bytes(hashlib.sha256(program.encode()).digest()[:4], "big")
    return np.random.default_rng([seed, len(PROGRAMS) + number, replication])


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (CmdStan runs as a child).

    The cost of a batch apart from the machine's load.
    """
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _divergences(idata) -> int:
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        return 0
    return int(stats["diverging"].values.sum())


def run_replication(
    engine, program: str, stan_file, stamp, design: dict, settings: dict, replication: int
) -> dict:
    """Simulate one data set from the prior, fit it, rank the true values."""
    rng = replication_rng(settings["seed"], program, replication)
    data, truth = simulate(program, design, rng, replication)
    sampler = {**settings["sampler"], "seed": int(rng.integers(0, 2**31 - 1))}
    record = {"replication": replication, "seed": sampler["seed"], "truth": truth}
    clock = time.perf_counter()
    try:
        idata, info = engine.fit(stan_file, data, sampler, stamp_path=stamp)
    except StanEngineError as exc:
        logger.warning("%s replication %d: fit failed: %s", program, replication, exc)
        return {
            **record,
            "status": "failed",
            "error": str(exc)[-2000:],
            "seconds": round(time.perf_counter() - clock, 3),
        }
    result, size = rank_module.ranks(idata.posterior, truth, settings["thin"], rng)
    return {
        **record,
        "status": "ok",
        "ranks": result,
        "draws": size,
        "min_ess": rank_module.min_ess(idata.posterior, truth),
        "divergences": _divergences(idata),
        "seconds": round(time.perf_counter() - clock, 3),
        "sampling_seconds": round(info["sampling_seconds"], 3),
    }


def run_batch(
    program: str,
    batch: int,
    *,
    stan_file,
    stamp,
    design_path,
    settings: dict,
    engine: str,
    destination,
    program_name: str | None = None,
) -> dict:
    """Run every replication of ``batch`` and write them as JSON to ``destination``.

    ``program`` picks the simulator; ``stan_file`` may be a copy of the program (the tests plant
    errors in copies), ``program_name`` then labels the results.
    """
    check_program(program)
    design = read_design(design_path)
    numbers = batch_replications(batch, settings["replications"], settings["batch_size"])
    stan_engine = get_engine(engine)
    clock, cpu = time.perf_counter(), _cpu_seconds()
    records = []
    for done, number in enumerate(numbers, start=1):  # progress in the job's log
        records.append(
            run_replication(stan_engine, program, stan_file, stamp, design, settings, number)
        )
        logger.info(
            "%s replication %d (%d of %d in this batch): %s in %.1f s",
            program,
            number,
            done,
            len(numbers),
            records[-1]["status"],
            records[-1]["seconds"],
        )
    result = {
        "format": BATCH_FORMAT,
        "program": program_name or program,
        "simulator": program,
        "stan_file": str(stan_file),
        "engine": stan_engine.name,
        "batch": batch,
        "thin": settings["thin"],
        "sampler": settings["sampler"],
        "seconds": round(time.perf_counter() - clock, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu, 3),
        "replications": records,
    }
    failed = sum(r["status"] == "failed" for r in records)
    logger.info(
        "%s batch %d: %d replications, %d failed fits, %.1f s",
        program,
        batch,
        len(records),
        failed,
        result["seconds"],
    )
    write_json(destination, result)
    return result


def batch_file(folder, program: str, batch: int) -> Path:
    return Path(folder) / program / f"{batch}.json"
