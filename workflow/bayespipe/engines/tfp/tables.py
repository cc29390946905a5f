"""CSV files of the TFP analyses: per-step training histories and a table of runs' metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bayespipe.io import atomic_path, read_json


def write_history(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Per-step history (step, loss, elbo, ...) as CSV, written atomically."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if "step" in frame.columns:
        frame = frame[["step"] + [c for c in frame.columns if c != "step"]]
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def metrics_table(metric_paths, columns, output_csv):
    """One row per run's metrics JSON: the named columns plus the device it ran on, as CSV."""
    import pandas as pd

    rows = []
    for path in metric_paths:
        metrics = read_json(path)
        rows.append({k: metrics[k] for k in columns} | {"device": metrics["device"]["device"]})
    write_history(output_csv, rows)
    return pd.DataFrame(rows)
