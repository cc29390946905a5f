"""The sinusoid's data: noisy draws of 10 sin(2 pi x) on the training range, and their checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayespipe.errors import InputError
from bayespipe.io import write_parquet

TRAIN_RANGE = (-0.5, 0.5)


def truth(x):
    return 10.0 * np.sin(2.0 * np.pi * x)


def make_data(settings: Mapping[str, Any]) -> pd.DataFrame:
    rng = np.random.default_rng(settings["seed"])
    x = np.linspace(*TRAIN_RANGE, settings["n_points"])
    y = truth(x) + rng.normal(0.0, settings["noise_sd"], size=x.shape)
    return pd.DataFrame({"x": x, "y": y})


def prepare(settings: Mapping[str, Any], train_path) -> dict:
    frame = make_data(settings)
    write_parquet(frame, train_path)
    return {"n_points": len(frame)}


def read_points(path) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(path)
    for column in ("x", "y"):
        if column not in frame.columns:
            raise InputError(path, "missing column (expected numeric x and y)", column=column)
        bad = np.flatnonzero(~np.isfinite(frame[column].to_numpy(dtype="float64")))
        if bad.size:
            raise InputError(path, "values must be finite numbers", column=column, row=int(bad[0]))
    return frame[["x"]].to_numpy("float32"), frame[["y"]].to_numpy("float32")
