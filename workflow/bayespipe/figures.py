"""The one place that picks matplotlib's backend and writes figures.

Jobs run without a display, so figures are drawn with the non-interactive Agg backend (selected
before pyplot is first imported: ``pyplot()``) and written by ``save_figure``: atomically (no
half-written PNG after a failure), in the format of the path's suffix, then closed so a job that
draws many figures does not keep them all in memory.
"""

from __future__ import annotations

from pathlib import Path

from bayespipe.io import atomic_path


def use_agg() -> None:
    """Select the non-interactive Agg backend (no display in batch jobs)."""
    import matplotlib

    matplotlib.use("Agg")


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend."""
    use_agg()
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    fig, path: str | Path, *, dpi: int = 110, bbox_inches: str | None = "auto", **savefig
) -> None:
    """Write ``fig`` to ``path`` atomically (format from the suffix, PNG if none) and close it.

    ``bbox_inches="auto"``: a figure with a layout engine (``layout="constrained"``) already fits
    its labels and is written as laid out; any other is cropped ("tight"), which draws it twice
    (that second draw was a third of a Stan fit job's figure time). Extra keyword arguments go
    to ``Figure.savefig`` (e.g. ``metadata``).
    """
    path = Path(path)
    if bbox_inches == "auto":
        bbox_inches = None if fig.get_layout_engine() is not None else "tight"
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp,
            format=path.suffix.lstrip(".") or "png",
            dpi=dpi,
            bbox_inches=bbox_inches,
            **savefig,
        )
    pyplot().close(fig)
