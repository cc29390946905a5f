"""What a trained LeNet predicts.

Class probabilities of network draws, held-out log probability and accuracy, and how well the
maximum mean class probability tells digits from noise.

Out of distribution: Normal(0, 1) noise images (inputs are pixels / 255, so the noise is on the
inputs' order of magnitude); the maximum mean class probability separates digits from noise
(AUROC), and an image is refused when no class's mean probability exceeds ``refuse_below``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bayespipe.analyses.mnist import data as mnist
from bayespipe.engines.tfp.session import Session

PREDICT_BATCH = 1000
NOISE_SEED_OFFSET = 1_000_003  # noise and evaluation draws use other streams than training


def make_predictor(session: Session, model) -> Callable[[np.ndarray, int], np.ndarray]:
    """``predict(images, draws)``: class probabilities of ``draws`` network draws, (draws, n, 10).

    Each call of a Flipout network is one draw of its weights; the compiled function is built once
    per model so repeated evaluations do not retrace it.
    """
    tf = session.tf

    @tf.function(reduce_retracing=True)
    def probabilities(x):
        return tf.nn.softmax(model(x, training=False), axis=-1)

    def predict(images: np.ndarray, draws: int) -> np.ndarray:
        with session.scope():
            chunks = [
                tf.constant(images[i : i + PREDICT_BATCH])
                for i in range(0, len(images), PREDICT_BATCH)
            ]
            return np.stack(
                [
                    np.concatenate([probabilities(chunk).numpy() for chunk in chunks])
                    for _ in range(draws)
                ]
            )

    return predict


def predict_draws(session: Session, model, images: np.ndarray, draws: int) -> np.ndarray:
    """Class probabilities of ``draws`` network draws: array (draws, images, 10)."""
    return make_predictor(session, model)(images, draws)


def heldout_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Held-out log probability (mean over images of log mean-over-draws p(label)) and accuracy."""
    mean = probs.astype(np.float64).mean(axis=0)
    p_true = mean[np.arange(len(labels)), labels]
    return {
        "heldout_log_prob": float(np.mean(np.log(np.maximum(p_true, np.finfo(np.float64).tiny)))),
        "heldout_accuracy": float(np.mean(mean.argmax(axis=1) == labels)),
    }


def out_of_distribution(
    heldout_probs: np.ndarray, noise_probs: np.ndarray, refuse_below: float
) -> dict:
    """AUROC of the maximum mean class probability (digits positive) and refusal rates."""
    from sklearn.metrics import roc_auc_score

    digits = heldout_probs.mean(axis=0).max(axis=1)
    noise = noise_probs.mean(axis=0).max(axis=1)
    truth = np.concatenate([np.ones(len(digits)), np.zeros(len(noise))])
    return {
        "auroc": float(roc_auc_score(truth, np.concatenate([digits, noise]))),
        "refuse_below": float(refuse_below),
        "refusal_rate_heldout": float(np.mean(digits <= refuse_below)),
        "refusal_rate_noise": float(np.mean(noise <= refuse_below)),
        "mean_max_prob_heldout": float(digits.mean()),
        "mean_max_prob_noise": float(noise.mean()),
    }


def noise_images(n: int, seed: int) -> np.ndarray:
    """Seeded Normal(0, 1) images, float32 (n, 28, 28, 1)."""
    rng = np.random.default_rng(seed + NOISE_SEED_OFFSET)
    return rng.standard_normal((n, *mnist.IMAGE_SHAPE, 1)).astype(np.float32)
