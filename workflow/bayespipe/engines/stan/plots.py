"""The standard figures of every Stan fit: traces (one colour per chain) and posterior densities.

Every program gets them: without ``var_names`` the panels are the scalars first, then the first
elements of the array variables (shared out in turn, so each array shows at least one while
panels are left), at most ``MAX_PANELS``, each titled with Stan's name (``theta[1]``). A figure
that still cannot be drawn becomes a placeholder PNG saying why (``draw_or_placeholder``), so a
fit is never lost to a figure.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

from bayespipe.engines.stan.summary import labels
from bayespipe.figures import pyplot, save_figure, use_agg

logger = logging.getLogger(__name__)

MAX_PANELS = 8
SAMPLE_DIMS = ("chain", "draw")
# A 1x1 grey PNG: the placeholder of last resort, when matplotlib itself cannot draw one.
_BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a49444154789c6338000000c200c1525e57510000000049454e44ae426082"
)


def panels(dataset, names: list[str] | None = None, limit: int = MAX_PANELS) -> list[tuple]:
    """The panels of a fit's figures: ``(label, variable, flat element index or None)`` each.

    Scalars of ``names`` (default: every variable of ``dataset``) first, then the first elements
    of its arrays, one array after the other in turn, in C order; labels as the summary's rows.
    """
    names = [name for name in (names or list(dataset.data_vars)) if name in dataset]
    scalars = [name for name in names if set(dataset[name].dims) <= set(SAMPLE_DIMS)]
    chosen = [(name, name, None) for name in scalars[:limit]]
    arrays = []
    for name in names:
        variable = dataset[name]
        dims = [dim for dim in variable.dims if dim not in SAMPLE_DIMS]
        if dims and variable.size:
            arrays.append((name, labels(name, variable, dims)))
    taken = dict.fromkeys((name for name, _ in arrays), 0)
    while len(chosen) + sum(taken.values()) < limit:
        grew = False
        for name, names_of in arrays:
            if taken[name] < len(names_of) and len(chosen) + sum(taken.values()) < limit:
                taken[name] += 1
                grew = True
        if not grew:
            break
    for name, names_of in arrays:
        chosen += [(names_of[k], name, k) for k in range(taken[name])]
    return chosen


def panel_data(idata, names: list[str] | None = None, limit: int = MAX_PANELS):
    """An InferenceData whose posterior holds one (chain, draw) variable per panel, named by it.

    Its sample_stats (divergences) are kept for the traces. Raises ValueError when the posterior
    has nothing to draw.
    """
    import arviz as az
    import xarray as xr

    posterior = idata.posterior
    chosen = panels(posterior, names, limit)
    if not chosen:
        raise ValueError("the posterior has no variable with an element to draw")
    variables = {}
    for label, name, index in chosen:
        variable = posterior[name]
        if index is not None:
            dims = [dim for dim in variable.dims if dim not in SAMPLE_DIMS]
            flat = variable.transpose(*SAMPLE_DIMS, *dims).to_numpy()
            values = flat.reshape(*flat.shape[:2], -1)[:, :, index]
            variable = xr.DataArray(
                values, dims=SAMPLE_DIMS, coords={d: posterior[d] for d in SAMPLE_DIMS}
            )
        variables[label] = variable
    groups = {"posterior": xr.Dataset(variables)}
    if "sample_stats" in idata.groups():
        groups["sample_stats"] = idata.sample_stats
    return az.InferenceData(**groups)


def _figure_of(axes):
    import numpy as np

    return np.asarray(axes).ravel()[0].figure


def _selected(idata, var_names: list[str] | None, candidates: list[str] | None):
    """(data, names) to hand ArviZ: ``var_names`` as given, else the panels of ``candidates``."""
    if var_names:
        return idata, list(var_names)
    data = panel_data(idata, candidates)
    return data, list(data.posterior.data_vars)


def _plot(arviz_plot, idata, path, var_names, title, candidates, **kwargs) -> None:
    """Draw ``arviz_plot`` of ``var_names`` (whole) or of the panels of ``candidates``; save it."""
    use_agg()
    data, names = _selected(idata, var_names, candidates)
    axes = arviz_plot(data, var_names=names, backend_kwargs={"layout": "constrained"}, **kwargs)
    figure = _figure_of(axes)
    if title:
        figure.suptitle(title)
    save_figure(figure, path)


def plot_trace(
    idata,
    path,
    var_names: list[str] | None = None,
    title: str | None = None,
    candidates: list[str] | None = None,
) -> None:
    """Traces of ``var_names`` (whole), or of the panels of ``candidates`` (see ``panels``)."""
    import arviz as az

    # compact=False: one colour per chain (compact mode tells chains apart by line style only)
    _plot(az.plot_trace, idata, path, var_names, title, candidates, compact=False, legend=True)


def plot_densities(
    idata,
    path,
    var_names: list[str] | None = None,
    title: str | None = None,
    candidates: list[str] | None = None,
) -> None:
    """Posterior densities (90% HDI) of ``var_names`` (whole), or the panels of ``candidates``."""
    import arviz as az

    _plot(az.plot_posterior, idata, path, var_names, title, candidates, hdi_prob=0.9)


def placeholder(path, message: str) -> None:
    """A small PNG at ``path`` that says ``message`` (a 1x1 PNG if even that cannot be drawn)."""
    try:
        plt = pyplot()
        figure = plt.figure(figsize=(6, 2))
        figure.text(0.5, 0.5, textwrap.fill(message, 80), ha="center", va="center", wrap=True)
        save_figure(figure, path, bbox_inches=None)
    except Exception:  # noqa: BLE001 - the rule's output must exist whatever matplotlib does
        logger.exception("could not draw the placeholder of %s", path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(_BLANK_PNG)


def draw_or_placeholder(draw, path, what: str) -> str | None:
    """Run ``draw()`` (which writes ``path``); if it fails, write a placeholder instead.

    Returns None when the figure was drawn, else the warning (also logged) naming the figure
    and the error.
    """
    plt = pyplot()
    before = set(plt.get_fignums())
    try:
        draw()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure of a figure leaves the fit intact
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        warning = f"{what} ({Path(path).name}) could not be drawn: {type(exc).__name__}: {exc}"
        logger.warning("%s", warning, exc_info=True)
        placeholder(path, warning)
        return warning
