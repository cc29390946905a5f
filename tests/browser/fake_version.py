"""A hand-made version folder shaped like the analyses' outputs, for the report tests: a failed
convergence gate, a data card with quantiles and a long vector, Zillow and tadpoles headline
files, figures, a log with a warning."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bayespipe.io import sha256_file  # noqa: E402
from bayespipe.report.html import RunInfo  # noqa: E402

SUMMARY = "hdi_3%,hdi_97%"


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_version(root: Path, name: str = "v1", *, a_bar: float = 1.35, mae_linear: float = 0.0901,
                 rhat_passed: bool = False) -> Path:
    """A version folder shaped like the analyses' outputs, with one failed convergence gate."""
    version = root / name
    tad = version / "tadpoles"
    write_json(tad / "fit" / "diagnostics.json", {
        "model": "tadpoles", "passed": rhat_passed,
        "checks": {"rhat": {"value": 1.2, "limit": 1.01, "passed": rhat_passed},
                   "ess_bulk": {"value": 900, "limit": 400, "passed": True}},
        "divergences_per_chain": [0, 0, 1, 0]})
    write_json(tad / "fit" / "metrics.json", {"a_bar": {"mean": a_bar, "sd": 0.25},
                                              "min_ess_bulk": 900.0, "max_rhat": 1.2,
                                              "gates_passed": rhat_passed})
    write_text(tad / "fit" / "summary.csv",
               f"variable,mean,sd,{SUMMARY}\na_bar,{a_bar},0.25,{a_bar - 0.45:g},{a_bar + 0.45:g}\n"
               "sigma,2.5,0.2,2.2,2.8\n")
    write_png(tad / "figures" / "survival.png")
    write_png(tad / "figures" / "extra.png")
    write_text(tad / "logs" / "tadpoles_fit.log",
               "2026-01-01 00:00:00 WARNING bayespipe: 3 divergent transitions\n")
    write_json(tad / "logs" / "tadpoles_fit.job.json",
               {"rule": "tadpoles_fit", "wall_seconds": 1.5})
    zil = version / "zillow"
    write_json(zil / "data" / "data_card.json", {
        "source": "synthetic", "predictors": ["a", "b"], "split": {"train": 750},
        "groups": {"train_rows_per_group_quantiles": {"q00": 1.0, "q05": 2.0, "q100": 90.0,
                                                      "q25": 5.0, "q50": 9.0}},
        "zip_effects_by_index": [0.01 * i for i in range(40)]})
    write_text(zil / "zillow_comparison.csv", "model,mae,rmse\nrandom_intercepts,0.0850,0.12\n"
                                              f"linear_regression,{mae_linear},0.13\n")
    write_json(zil / "network" / "heldout_metrics.json", {"model": "network", "mae": 0.0800,
                                                          "bayesian_layers": False})
    write_json(zil / "linear_regression" / "diagnostics.json",
               {"passed": True, "checks": {"rhat": {"passed": True}}})
    (version / "report").mkdir()
    return version


def run_info(**overrides) -> RunInfo:
    base = dict(version="v1", config={"analyses": ["tadpoles", "zillow", "moons"], "report": True},
                software={"numpy": "2.4.6"}, stan_engine={"engine": "pystan", "stan": "2.35.0"},
                analyses=["tadpoles", "zillow", "moons"], git={"commit": "abc123", "dirty": False},
                host={"name": "vm", "cores": 2, "gpus": []})
    base.update(overrides)
    return RunInfo(**base)


def complete(version: Path, config: dict, end_time: str = "2026-01-01T00:00:00") -> None:
    """Mark a version complete: a manifest listing its files as outputs."""
    files = [{"path": str(p.relative_to(version)), "sha256": sha256_file(p), "kind": "output"}
             for p in version.rglob("*") if p.is_file() and "logs" not in p.parts]
    write_json(version / "manifest.json", {
        "version": version.name, "config": config, "code": {"a.py": "1"}, "data": {},
        "software": {"numpy": "2.4.6"}, "stan_engine": {}, "files": files,
        "end_time": end_time})
