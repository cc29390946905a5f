"""Every fit gets its figures, named as Stan names elements, and no fit is lost to a figure.

Synthetic draws (``az.from_dict``), no sampling: a program whose parameters are all arrays
(lotka_volterra's shape) gets panels of their first elements; a figure that raises leaves the
fit's files, a placeholder PNG and a warning that the report shows in the fit's section.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

az = pytest.importorskip("arviz")

from bayespipe.engines.stan import outputs, plots  # noqa: E402
from bayespipe.engines.stan.base import stan_positions  # noqa: E402
from bayespipe.engines.stan.outputs import fit_outputs, save_fit  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.fake_version import make_version, run_info  # noqa: E402

INFO = {"engine": "cmdstanpy", "method": "nuts", "sampler": {"max_treedepth": 10}}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def arrays_only(chains=2, draws=200, seed=3):
    """lotka_volterra's posterior: theta[4], z_init[2], sigma[2] and z[N, 2], no scalar at all."""
    rng = np.random.default_rng(seed)
    idata = az.from_dict(
        posterior={
            "theta": rng.gamma(4.0, size=(chains, draws, 4)),
            "z_init": rng.gamma(4.0, size=(chains, draws, 2)),
            "sigma": rng.gamma(4.0, size=(chains, draws, 2)),
            "z": rng.gamma(4.0, size=(chains, draws, 5, 2)),
        },
        sample_stats={
            "diverging": np.zeros((chains, draws), dtype=bool),
            "tree_depth": np.full((chains, draws), 3),
            "energy": rng.normal(size=(chains, draws)),
        },
        observed_data={"y": np.ones((5, 2))},
    )
    return stan_positions(idata)


def titles_of_saved_figures(monkeypatch) -> list[list[str]]:
    """Record the panel titles of every figure plots.py saves."""
    saved = []
    real = plots.save_figure

    def record(figure, path, **kwargs):
        saved.append([ax.get_title() for ax in figure.axes if ax.get_title()])
        real(figure, path, **kwargs)

    monkeypatch.setattr(plots, "save_figure", record)
    return saved


def test_panels_are_scalars_then_first_elements_of_each_array_named_from_1():
    rng = np.random.default_rng(0)
    idata = stan_positions(
        az.from_dict(
            posterior={
                "mu": rng.normal(size=(2, 20)),
                "theta": rng.normal(size=(2, 20, 8)),
                "L": rng.normal(size=(2, 20, 3, 3)),
            },
            dims={"theta": ["theta_dim_0"], "L": ["L_dim_0", "L_dim_1"]},
        )
    )
    chosen = plots.panels(idata.posterior, ["mu", "theta", "L"], limit=6)
    assert [label for label, _, _ in chosen] == [
        "mu",
        "theta[1]",
        "theta[2]",
        "theta[3]",
        "L[1, 1]",
        "L[1, 2]",
    ]
    data = plots.panel_data(idata, ["mu", "theta", "L"], limit=6)
    np.testing.assert_array_equal(data.posterior["L[1, 2]"], idata.posterior["L"][:, :, 0, 1])
    np.testing.assert_array_equal(data.posterior["theta[3]"], idata.posterior["theta"][:, :, 2])
    assert len(plots.panels(idata.posterior)) == plots.MAX_PANELS


def test_a_fit_with_only_array_parameters_gets_both_figures(tmp_path, monkeypatch):
    saved = titles_of_saved_figures(monkeypatch)
    idata = arrays_only()
    result = save_fit(
        tmp_path / "fit", idata, INFO, var_names=["theta", "z_init", "sigma", "z"], label="lv"
    )
    assert "figure_warnings" not in result
    paths = fit_outputs(tmp_path / "fit")
    for name in ("trace", "densities"):
        assert Path(paths[name]).read_bytes().startswith(PNG_MAGIC)
    trace, densities = saved
    expected = {"theta[1]", "theta[2]", "z_init[1]", "z_init[2]", "sigma[1]", "sigma[2]"}
    assert expected <= set(trace) and expected <= set(densities)
    assert not [t for t in trace + densities if "[0" in t or "_dim_" in t]
    assert len(set(densities)) == plots.MAX_PANELS


def test_a_figure_that_raises_leaves_the_fit_a_placeholder_and_a_warning(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("Number of rows must be a positive integer, not 0")

    monkeypatch.setattr(az, "plot_trace", broken)
    idata = arrays_only()
    result = save_fit(tmp_path / "fit", idata, INFO, label="lv")
    paths = {name: Path(path) for name, path in fit_outputs(tmp_path / "fit").items()}
    assert az.from_netcdf(paths["posterior"]).posterior["theta"].shape == (2, 200, 4)
    summary = paths["summary"].read_text().splitlines()
    assert any(line.startswith("theta[1],") for line in summary)
    assert not any(line.startswith("theta[0]") for line in summary)
    diagnostics = json.loads(paths["diagnostics"].read_text())
    (warning,) = diagnostics["figure_warnings"]
    assert "lv: trace" in warning and "positive integer, not 0" in warning
    assert result["figure_warnings"] == [warning]
    assert paths["trace"].read_bytes().startswith(PNG_MAGIC)  # the placeholder
    assert paths["densities"].read_bytes().startswith(PNG_MAGIC)  # drawn as usual
    assert not list(paths["trace"].parent.glob(".*.tmp"))  # no half-written file left


def test_the_placeholder_says_why(tmp_path, monkeypatch):
    texts = []
    real = plots.save_figure

    def record(figure, path, **kwargs):
        texts.extend(text.get_text() for text in figure.texts)
        real(figure, path, **kwargs)

    monkeypatch.setattr(plots, "save_figure", record)
    warning = plots.draw_or_placeholder(lambda: 1 / 0, tmp_path / "trace.png", "models/x: trace")
    assert warning.startswith("models/x: trace (trace.png) could not be drawn: ZeroDivisionError")
    assert any("ZeroDivisionError" in text for text in texts)
    assert (tmp_path / "trace.png").read_bytes().startswith(PNG_MAGIC)


def test_a_placeholder_is_written_even_when_matplotlib_cannot_draw(tmp_path, monkeypatch):
    def unusable(*args, **kwargs):
        raise RuntimeError("no matplotlib today")

    monkeypatch.setattr(plots, "save_figure", unusable)
    plots.placeholder(tmp_path / "densities.png", "could not be drawn")
    assert (tmp_path / "densities.png").read_bytes().startswith(PNG_MAGIC)


def test_the_report_shows_a_figure_warning_in_the_fits_section(tmp_path):
    from bayespipe.report import collect
    from bayespipe.report.html import render

    version = make_version(tmp_path / "results")
    warning = "models/lv: trace (trace.png) could not be drawn: ValueError: rows <0>"
    diagnostics = version / "tadpoles" / "fit" / "diagnostics.json"
    data = json.loads(diagnostics.read_text())
    diagnostics.write_text(json.dumps({**data, "figure_warnings": [warning]}))
    section = collect.collect_analysis(version, "tadpoles")
    assert section.figure_warnings == [("tadpoles/fit/diagnostics.json", warning)]
    html = render(version, version / "report" / "index.html", run_info(version=version.name))
    tadpoles = html.split('<section id="analysis-tadpoles">')[1].split("</section>")[0]
    assert "figure not drawn" in tadpoles
    assert "could not be drawn: ValueError: rows &lt;0&gt;" in tadpoles  # escaped, once
    assert "figure not drawn" not in html.split('<section id="analysis-tadpoles">')[0]


def test_save_fit_writes_draws_summary_and_gates_before_any_figure(tmp_path, monkeypatch):
    order = []
    for name in ("write_netcdf", "write_summary", "write_json", "plot_trace", "plot_densities"):
        real = getattr(outputs, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            order.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(outputs, name, spy)
    save_fit(tmp_path / "fit", arrays_only(), INFO, label="lv")
    assert order == ["write_netcdf", "write_summary", "write_json", "plot_trace", "plot_densities"]
