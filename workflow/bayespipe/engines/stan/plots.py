"""The standard figures of every Stan fit: traces (one colour per chain) and posterior densities."""

from __future__ import annotations

from bayespipe.figures import save_figure, use_agg

MAX_PANELS = 8


def scalar_variables(dataset, limit: int = MAX_PANELS) -> list[str]:
    """Scalar parameters (no dimension besides chain and draw), the ones worth a panel each."""
    names = [name for name, var in dataset.data_vars.items() if set(var.dims) <= {"chain", "draw"}]
    return names[:limit]


def _figure_of(axes):
    import numpy as np

    return np.asarray(axes).ravel()[0].figure


def plot_trace(idata, path, var_names: list[str] | None = None, title: str | None = None) -> None:
    import arviz as az

    use_agg()
    names = var_names or scalar_variables(idata.posterior)
    # compact=False: one colour per chain (compact mode tells chains apart by line style only)
    axes = az.plot_trace(
        idata, var_names=names, compact=False, legend=True, backend_kwargs={"layout": "constrained"}
    )
    figure = _figure_of(axes)
    if title:
        figure.suptitle(title)
    save_figure(figure, path)


def plot_densities(
    idata, path, var_names: list[str] | None = None, title: str | None = None
) -> None:
    import arviz as az

    use_agg()
    names = var_names or scalar_variables(idata.posterior)
    axes = az.plot_posterior(
        idata, var_names=names, hdi_prob=0.9, backend_kwargs={"layout": "constrained"}
    )
    figure = _figure_of(axes)
    if title:
        figure.suptitle(title)
    save_figure(figure, path)
