"""What every TFP network shares: device choice, seeds, determinism, progress logs, history.

``setup()`` is the single place that imports TensorFlow. Call it at the start of a fit:

    session = setup(device=cfg["device"], seed=7, deterministic=True, threads=2)
    with session.scope():
        ...                      # build and train
    record["device"] = session.info
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bayespipe.errors import ConfigError
from bayespipe.io import atomic_path, read_json

# The package's __init__ (always imported before this module) selects tf-keras.

DEVICES = ("auto", "cpu", "gpu")
log = logging.getLogger(__name__)


@dataclass
class Session:
    """TensorFlow, TFP and the device a fit runs on."""

    tf: Any
    tfp: Any
    device: str  # "cpu" or "gpu"
    device_name: str  # "/CPU:0" or "/GPU:0"
    seed: int
    info: dict = field(default_factory=dict)

    def scope(self):
        """Context that places the ops of a fit on the chosen device."""
        return self.tf.device(self.device_name)


def _import_tensorflow():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tensorflow_probability as tfp

    return tf, tfp


def _gpu_names(tf, gpus) -> list[str]:
    names = []
    for gpu in gpus:
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (RuntimeError, ValueError):
            details = {}
        names.append(details.get("device_name", gpu.name))
    return names


def _keras_version() -> str | None:
    try:
        import tf_keras
    except ImportError:
        return None
    return tf_keras.__version__


def choose_device(requested: str, gpu_count: int) -> str:
    """The device a fit uses: ``auto`` takes a GPU when one is visible; ``gpu`` demands one."""
    if requested not in DEVICES:
        raise ConfigError(f"tfp.device: {requested!r} is not one of {', '.join(DEVICES)}")
    if requested == "gpu" and gpu_count == 0:
        raise ConfigError(
            "tfp.device: 'gpu' was requested but TensorFlow sees no GPU on this machine "
            "(set tfp.device to 'auto' or 'cpu', or run where a CUDA GPU is visible)"
        )
    if requested == "cpu" or gpu_count == 0:
        return "cpu"
    return "gpu"


def _limit_threads(tf, threads: int) -> None:
    # Thread pools can only be sized before the runtime starts; a second setup() in the same
    # process (tests) keeps the first sizes.
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(threads, 2)))


def _hide_gpus(tf) -> None:
    with contextlib.suppress(RuntimeError, ValueError):
        tf.config.set_visible_devices([], "GPU")


def set_seeds(tf, seed: int) -> None:
    """Python, NumPy and TensorFlow seeds (Keras initialisers and tf.random ops follow)."""
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


def setup(
    device: str = "auto", seed: int = 0, deterministic: bool = True, threads: int = 2
) -> Session:
    """Import TensorFlow, pick the device, seed everything and return the Session."""
    tf, tfp = _import_tensorflow()
    # tfp.layers call Keras' deprecated add_variable; the warning repeats per layer in every log.
    warnings.filterwarnings("ignore", message=".*`layer.add_variable` is deprecated.*")
    _limit_threads(tf, threads)
    gpus = tf.config.list_physical_devices("GPU")
    chosen = choose_device(device, len(gpus))
    if chosen == "cpu" and gpus:
        _hide_gpus(tf)
    set_seeds(tf, seed)
    determinism = bool(deterministic and chosen == "cpu")
    if determinism:
        tf.config.experimental.enable_op_determinism()
    info = {
        "requested": device,
        "device": chosen,
        "device_name": "/GPU:0" if chosen == "gpu" else "/CPU:0",
        "gpus": _gpu_names(tf, gpus),
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "keras": _keras_version(),
        "deterministic": determinism,
        "threads": threads,
        "seed": seed,
    }
    log.info(
        "TensorFlow %s, TFP %s on %s (GPUs seen: %s), seed %d, deterministic ops %s",
        tf.__version__,
        tfp.__version__,
        info["device_name"],
        info["gpus"] or "none",
        seed,
        determinism,
    )
    return Session(
        tf=tf, tfp=tfp, device=chosen, device_name=info["device_name"], seed=seed, info=info
    )


def setup_from_config(
    tfp_config: Mapping[str, Any], seed: int, threads: int | None = None
) -> Session:
    """``setup()`` from the validated ``tfp`` config section; ``threads``, where given (a rule's
    own threads), replaces the section's."""
    return setup(
        device=tfp_config.get("device", "auto"),
        seed=seed,
        deterministic=tfp_config.get("deterministic", True),
        threads=threads or tfp_config.get("threads", 2),
    )


def mean_field_normal_fn(
    session: Session, seed: int, loc_stddev: float = 0.1, untransformed_scale_mean: float = -3.0
):
    """A kernel_posterior_fn for tfp.layers.Dense*/Conv* layers with fresh, seeded initialisers.

    TFP's default shares one unseeded initialiser across layers, which repeats its values
    (Keras warns); call this once per layer with a distinct ``seed``. Scales start at
    softplus(untransformed_scale_mean) (about 0.05 for -3).
    """
    tf, tfp = session.tf, session.tfp
    return tfp.layers.default_mean_field_normal_fn(
        loc_initializer=tf.keras.initializers.RandomNormal(stddev=loc_stddev, seed=seed),
        untransformed_scale_initializer=tf.keras.initializers.RandomNormal(
            mean=untransformed_scale_mean, stddev=0.1, seed=seed + 100_003
        ),
    )


class ProgressLogger:
    """Collects per-step metrics and logs them every ``every`` steps (no progress bars).

    ``progress.log(step, loss=..., elbo=...)`` records a history row on every call;
    ``progress.rows`` feeds ``write_history``. Steps count from 1.
    """

    def __init__(self, name: str, total_steps: int, every: int | None = None, logger=None):
        self.name = name
        self.total_steps = int(total_steps)
        self.every = int(every) if every else max(1, self.total_steps // 10)
        self.logger = logger or log
        self.rows: list[dict] = []
        self.started = time.perf_counter()

    def log(self, step: int, **values: float) -> None:
        row = {"step": int(step), **{k: float(v) for k, v in values.items()}}
        self.rows.append(row)
        if step % self.every == 0 or step == self.total_steps or step == 1:
            shown = ", ".join(f"{k} {v:.5g}" for k, v in row.items() if k != "step")
            self.logger.info(
                "%s step %d/%d: %s (%.1f s)",
                self.name,
                step,
                self.total_steps,
                shown,
                self.elapsed(),
            )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def keras_callback(self, session: Session, per: str = "epoch"):
        """A tf.keras Callback feeding this logger after each epoch (or each batch)."""
        progress = self

        class _Progress(session.tf.keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.step = 0

            def _record(self, logs):
                self.step += 1
                progress.log(
                    self.step, **{k: v for k, v in (logs or {}).items() if _finite_number(v)}
                )

            def on_epoch_end(self, epoch, logs=None):
                if per == "epoch":
                    self._record(logs)

            def on_train_batch_end(self, batch, logs=None):
                if per == "batch":
                    self._record(logs)

        return _Progress()


def batch_indices(
    rng: np.random.Generator,
    n: int,
    batch_size: int | None,
    steps: int,
    *,
    drop_remainder: bool = True,
) -> list:
    """Per step, None (full batch) or the row indices of a mini-batch; rows reshuffled every pass.

    ``drop_remainder`` (as in ``tf.data``): each pass over the n rows yields only whole batches and
    its last ``n % batch_size`` rows sit that pass out. With False they open the next pass's first
    batch instead, so every row is used once per pass (and a batch of all n rows is shuffled, not
    None).
    """
    if not batch_size or (drop_remainder and batch_size >= n):
        return [None] * steps
    out: list = []
    if drop_remainder:
        while len(out) < steps:
            order = rng.permutation(n)
            out.extend(order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size))
        return out[:steps]
    pending = np.empty(0, dtype=np.int64)
    while len(out) < steps:
        while len(pending) < batch_size:  # a new pass only when the current one cannot fill a batch
            pending = np.concatenate([pending, rng.permutation(n)])
        out.append(pending[:batch_size])
        pending = pending[batch_size:]
    return out


def _finite_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


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
