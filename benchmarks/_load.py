"""Whether a benchmark's timings can be trusted: the machine's load before and after, its cores.

Every script in ``benchmarks/`` starts a ``LoadWatch`` before it times anything and ends it after::

    from _load import LoadWatch

    load = LoadWatch()            # reads the load now; on a busy machine says so at once
    ...                           # the timed work
    result["load"] = load.finish()  # load before and after, cores, comparable (JSON)
    load.report()                 # the same, printed under the table

Timings taken while the 1-minute load average exceeds the cores (other work running) are not
comparable with quiet ones: the warning line says so, and ``comparable`` is false in the JSON.
"""

from __future__ import annotations

import os
import sys


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded to hundredths."""
    return [round(x, 2) for x in os.getloadavg()]


def busy_warning(load_1m: float, cores: int) -> str | None:
    """The line that says figures taken at this load are not comparable, or None."""
    if load_1m <= cores:
        return None
    return (
        f"WARNING: load average {load_1m:.2f} (1 min) at the start is above the {cores} cores: "
        "other work was running, so these timings are NOT comparable with a quiet machine's"
    )


class LoadWatch:
    """The load average at the start and at the end of a benchmark, and the machine's cores."""

    def __init__(self, announce: bool = True):
        self.cores = os.cpu_count() or 1
        self.before = load_average()
        self.after: list[float] | None = None
        self.warning = busy_warning(self.before[0], self.cores)
        if announce and self.warning:
            print(self.warning, file=sys.stderr, flush=True)

    def finish(self) -> dict:
        """Read the load at the end; the JSON record of both readings."""
        self.after = load_average()
        return self.record()

    def record(self) -> dict:
        return {
            "cores": self.cores,
            "load_before": self.before,
            "load_after": self.after,
            "comparable": self.warning is None,
            "warning": self.warning,
        }

    def report(self) -> None:
        """Print the readings (and the warning, if any) under the benchmark's table."""
        for line in describe(self.record()):
            print(line)


def describe(record: dict) -> list[str]:
    """The lines a table ends with, from a ``LoadWatch`` record (also one read back from JSON)."""
    after = record.get("load_after")
    line = f"load average (1, 5, 15 min) before {_triple(record['load_before'])}"
    line += f", after {_triple(after)}" if after else ""
    line += f"; {record['cores']} cores"
    return [line, record["warning"]] if record.get("warning") else [line]


def _triple(values: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)
