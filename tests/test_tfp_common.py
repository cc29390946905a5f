"""bayespipe.engines.tfp: session, training helpers and history files.

bayespipe.engines.tfp: lazy TensorFlow import, device choice, seeds (session), progress logs and
mini-batches (training), history files (tables).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bayespipe.engines.tfp import session as tfp_session
from bayespipe.engines.tfp import tables, training
from bayespipe.errors import ConfigError


def test_importing_the_tfp_modules_selects_tf_keras_and_loads_no_tensorflow():
    code = (
        "import sys\n"
        "import bayespipe.engines.tfp.session, bayespipe.engines.tfp.training, "
        "bayespipe.engines.tfp.tables, bayespipe.engines.tfp.layers, "
        "bayespipe.analyses.moons.network, bayespipe.analyses.sinusoid.network, "
        "bayespipe.analyses.zillow.network\n"
        "import os\n"
        "print(os.environ['TF_USE_LEGACY_KERAS'], 'tensorflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["1", "False"]


@pytest.mark.parametrize(
    "requested, gpus, expected",
    [
        ("auto", 0, "cpu"),
        ("auto", 1, "gpu"),
        ("cpu", 1, "cpu"),
        ("cpu", 0, "cpu"),
        ("gpu", 2, "gpu"),
    ],
)
def test_choose_device(requested, gpus, expected):
    assert tfp_session.choose_device(requested, gpus) == expected


def test_asking_for_a_gpu_without_one_names_the_config_key():
    with pytest.raises(ConfigError, match=r"tfp\.device.*'gpu'.*no GPU"):
        tfp_session.choose_device("gpu", 0)
    with pytest.raises(ConfigError, match=r"tfp\.device"):
        tfp_session.choose_device("tpu", 0)


@pytest.fixture(scope="module")
def tf():
    return tfp_session.setup(device="cpu", seed=3).tf


def test_setup_falls_back_to_cpu_or_refuses_gpu_on_this_machine(tf):
    gpus = tf.config.list_physical_devices("GPU")
    session = tfp_session.setup(device="auto", seed=3)
    assert session.device == ("gpu" if gpus else "cpu")
    assert session.info["device"] == session.device and session.info["tensorflow"] == tf.__version__
    if gpus:
        pytest.skip(f"this machine has a GPU ({gpus[0].name}): tfp.device=gpu cannot fail here")
    with pytest.raises(ConfigError, match=r"tfp\.device"):
        tfp_session.setup(device="gpu", seed=3)


def test_setup_uses_the_gpu_when_asked_and_present(tf):
    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow: the CPU fallback is tested instead")
    session = tfp_session.setup(device="gpu", seed=3)
    with session.scope():
        value = session.tf.reduce_sum(session.tf.ones([4]))
    assert session.device == "gpu" and "GPU" in value.device


def test_same_seed_same_random_numbers_on_cpu():
    first = tfp_session.setup(device="cpu", seed=11)
    a = first.tf.random.normal([5]).numpy()
    b = tfp_session.setup(device="cpu", seed=11).tf.random.normal([5]).numpy()
    c = tfp_session.setup(device="cpu", seed=12).tf.random.normal([5]).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert first.info["deterministic"] is True


def test_progress_logger_logs_every_n_steps_and_keeps_every_row(caplog, tmp_path):
    progress = training.ProgressLogger("toy", total_steps=10, every=5)
    with caplog.at_level(logging.INFO, logger="bayespipe.engines.tfp.training"):
        for step in range(1, 11):
            progress.log(step, loss=1.0 / step)
    logged = [r.getMessage() for r in caplog.records if "toy step" in r.getMessage()]
    assert [m.split()[2].rstrip(":") for m in logged] == ["1/10", "5/10", "10/10"]
    tables.write_history(tmp_path / "history.csv", progress.rows)
    frame = pd.read_csv(tmp_path / "history.csv")
    assert list(frame.columns) == ["step", "loss"] and len(frame) == 10
    assert frame["loss"].iloc[-1] == pytest.approx(0.1)


def test_batch_indices_cover_every_row_once_per_epoch():
    rng = np.random.default_rng(0)
    assert training.batch_indices(rng, 10, None, 3) == [None, None, None]
    batches = training.batch_indices(rng, 10, 5, 4)
    assert len(batches) == 4
    assert sorted(np.concatenate(batches[:2])) == list(range(10))
    assert sorted(np.concatenate(batches[2:])) == list(range(10))
