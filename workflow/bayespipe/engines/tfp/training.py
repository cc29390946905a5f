"""The training loop's helpers: mini-batch schedules and a progress log of per-step metrics."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from bayespipe.engines.tfp.session import Session

log = logging.getLogger(__name__)


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


def _finite_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
