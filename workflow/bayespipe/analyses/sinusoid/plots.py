"""The sinusoid figure: data, truth, predictive mean and the bands of each variant."""

from __future__ import annotations

import pandas as pd

from bayespipe.analyses.sinusoid.data import TRAIN_RANGE, truth
from bayespipe.analyses.sinusoid.network import band_ratio, inside_training_range, rmse_inside
from bayespipe.figures import save_figure, use_agg


def plot(train_path, predictions_path, variant: str, figure_path) -> None:
    """Data, truth, predictive mean and +-2 sd epistemic band.

    The aleatoric variant adds a second panel with the +-2 sd band of the learned noise.
    """
    use_agg()
    import matplotlib.pyplot as plt

    data = pd.read_parquet(train_path)
    pred = pd.read_parquet(predictions_path)
    x, mean = pred["x"].to_numpy(), pred["mean"].to_numpy()
    bands = [("epistemic_sd", "C0", "+-2 sd, epistemic (weights)")]
    if variant == "aleatoric":
        bands.append(("aleatoric_sd", "C1", "+-2 sd, aleatoric (learned noise)"))
    fig, axes = plt.subplots(1, len(bands), figsize=(7 * len(bands), 4.2), squeeze=False)
    ratio = band_ratio(x, pred["epistemic_sd"].to_numpy())
    rmse = rmse_inside(x, mean)
    for ax, (column, color, label) in zip(axes[0], bands, strict=True):
        sd = pred[column].to_numpy()
        ax.axvspan(*TRAIN_RANGE, color="0.93", label="training range")
        ax.fill_between(x, mean - 2 * sd, mean + 2 * sd, color=color, alpha=0.35, label=label)
        ax.plot(x, truth(x), "k--", lw=1, label="truth 10 sin(2 pi x)")
        ax.plot(x, mean, color=color, lw=1.5, label="predictive mean")
        ax.scatter(data["x"], data["y"], s=12, color="k", zorder=3, label="training data")
        ax.set(xlabel="x", ylabel="y", ylim=(-40, 40))
        ax.legend(fontsize=7, loc="lower left")
    axes[0][0].set_title(
        f"Sinusoid, {variant}: band ratio {ratio:.1f} (target >= 3), "
        f"in-range RMSE to truth {rmse:.2f}"
    )
    if variant == "aleatoric":
        inside = inside_training_range(x)
        noise = pred["aleatoric_sd"].to_numpy()[inside].mean()
        axes[0][1].set_title(f"Learned noise: mean sd {noise:.2f} on the training range (truth 1)")
    save_figure(fig, figure_path)
