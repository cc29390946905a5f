"""The TensorFlow session of a TFP fit: device choice, seeds, determinism, threads.

``setup()`` is the single place that imports TensorFlow. Call it at the start of a fit:

    session = setup_from_config(tfp_config, seed=7)
    with session.scope():
        ...                      # build and train
    record["device"] = session.info
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayespipe.errors import ConfigError

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
    """``setup()`` from the validated ``tfp`` config section.

    ``threads``, where given (a rule's own threads), replaces the section's.
    """
    return setup(
        device=tfp_config.get("device", "auto"),
        seed=seed,
        deterministic=tfp_config.get("deterministic", True),
        threads=threads or tfp_config.get("threads", 2),
    )
