"""The LeNet figures: weight posteriors and predictions at each evaluation, training history."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayespipe.analyses.mnist.network import N_CLASSES, bayesian_layers
from bayespipe.figures import pyplot, save_figure

SHOWN_IMAGES = 8  # held-out / noise images drawn per prediction figure


def figure_name(kind: str, step: int) -> str:
    """File name of a per-evaluation figure (``weights`` or ``heldout``) at ``step``."""
    return f"{kind}_step{step:05d}.png"


def plot_weight_posteriors(model, path: str | Path, step: int) -> None:
    """Histograms of each Flipout layer's kernel posterior means and standard deviations."""
    plt = pyplot()
    fig, (ax_mean, ax_std) = plt.subplots(1, 2, figsize=(10, 3.6))
    for layer in bayesian_layers(model):
        means = layer.kernel_posterior.mean().numpy().ravel()
        stds = layer.kernel_posterior.stddev().numpy().ravel()
        ax_mean.hist(means, bins=60, density=True, histtype="step", label=layer.name)
        ax_std.hist(stds, bins=60, density=True, histtype="step", label=layer.name)
    ax_mean.set(title="weight means", xlabel="posterior mean", ylabel="density")
    ax_std.set(title="weight standard deviations", xlabel="posterior std", xscale="log")
    ax_mean.legend(fontsize=7)
    fig.suptitle(f"Flipout LeNet-5 weight posteriors, step {step}")
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)


def shown_indices(n: int) -> np.ndarray:
    """Images drawn in a prediction figure: evenly spaced, so a sorted set shows many classes."""
    return np.unique(np.linspace(0, n - 1, min(SHOWN_IMAGES, n)).round().astype(int))


def plot_predictions(
    images: np.ndarray,
    probs: np.ndarray,
    path: str | Path,
    title: str,
    labels: np.ndarray | None = None,
) -> None:
    """Images beside each draw's class probabilities (dots) and their mean (bars)."""
    plt = pyplot()
    shown = shown_indices(len(images))
    fig, axes = plt.subplots(
        len(shown),
        2,
        figsize=(6, 1.2 * len(shown)),
        gridspec_kw={"width_ratios": [1, 4]},
        squeeze=False,
    )
    classes = np.arange(N_CLASSES)
    # spread the dots
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=probs.shape[0])[:, None]
    for row, i in enumerate(shown):
        ax_image, ax_probs = axes[row]
        ax_image.imshow(images[i, ..., 0], cmap="gray")
        ax_image.set_axis_off()
        if labels is not None:
            ax_image.set_title(f"label {labels[i]}", fontsize=7)
        ax_probs.bar(classes, probs[:, i].mean(axis=0), color="tab:orange", alpha=0.5, width=0.8)
        ax_probs.scatter(
            (classes + jitter).ravel(),
            probs[:, i].ravel(),
            s=6,
            color="tab:blue",
            alpha=max(0.25, min(0.8, 12.0 / len(probs))),
            linewidths=0,
        )
        ax_probs.set(ylim=(0, 1.02), xticks=classes)
        ax_probs.tick_params(labelsize=6)
    axes[0, 1].set_title(f"{title}: dots, {len(probs)} draws; bars, their mean", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)


def plot_history(history: list[dict], evaluations: list[dict], path: str | Path) -> None:
    """Training loss and its parts (KL / n dominates with few images) and held-out evaluations."""
    import pandas as pd

    plt = pyplot()
    frame = pd.DataFrame(history)
    fig, (ax_loss, ax_nll, ax_eval) = plt.subplots(1, 3, figsize=(13, 3.4))
    ax_loss.plot(frame["step"], frame["loss"], lw=0.8, label="loss = NLL + KL / n")
    ax_loss.plot(frame["step"], frame["kl"], lw=0.8, ls="--", label="KL / n")
    ax_loss.set(xlabel="step", ylabel="per example", yscale="log", title="negative ELBO")
    ax_loss.legend(fontsize=7)
    ax_nll.plot(frame["step"], frame["nll"], lw=0.5, alpha=0.4, label="batch")
    window = max(1, len(frame) // 30)
    ax_nll.plot(
        frame["step"],
        frame["nll"].rolling(window, min_periods=1).mean(),
        lw=1.2,
        label=f"mean of {window} steps",
    )
    ax_nll.set(
        xlabel="step", ylabel="mean NLL", yscale="log", title="training negative log likelihood"
    )
    ax_nll.legend(fontsize=7)
    steps = [row["step"] for row in evaluations]
    ax_eval.plot(steps, [row["heldout_accuracy"] for row in evaluations], "o-", label="accuracy")
    ax_eval.set(xlabel="step", ylabel="held-out accuracy", title="held-out evaluation")
    ax_lp = ax_eval.twinx()
    ax_lp.plot(steps, [row["heldout_log_prob"] for row in evaluations], "s--", color="tab:red")
    ax_lp.set_ylabel("held-out log probability", color="tab:red")
    fig.tight_layout()
    save_figure(fig, path, dpi=90, bbox_inches=None)
