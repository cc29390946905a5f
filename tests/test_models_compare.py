"""Model comparisons (``comparisons:``): PSIS-LOO of model blocks, refused early when they can't.

ArviZ ``compare`` on InferenceData made here, the summary the report reads, the log_lik sizes
resolved from the programs and the blocks' data, and the refusals at parse time (``snakemake -n``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from bayespipe.analyses.models import compare
from bayespipe.engines.stan.program import parse_generated_block
from bayespipe.errors import ConfigError
from conftest import REPO, copy_repo, run_snakemake

EIGHT = {"J": "rows", "y": {"column": "effect"}, "sigma": {"column": "stderr"}}
JSON_KEYS = {
    "name",
    "blocks",
    "ranking",
    "ic",
    "method",
    "scale",
    "leader",
    "runner_up",
    "elpd_diff",
    "dse",
    "decisive",
    "weights",
    "elpd_loo",
    "se",
    "p_loo",
    "pareto_k_max",
    "unreliable",
    "headline",
}


def fit(log_lik: np.ndarray):
    """InferenceData with a posterior and a log_likelihood group (chains, draws, points)."""
    import arviz as az

    chains, draws = log_lik.shape[:2]
    mu = np.random.default_rng(0).normal(size=(chains, draws))
    return az.from_dict(posterior={"mu": mu}, log_likelihood={"log_lik": log_lik})


def pointwise(seed: int, shift=0.0, points: int = 20) -> np.ndarray:
    """Log-likelihoods of 2 chains x 200 draws: a level per point, small noise across draws."""
    rng = np.random.default_rng(seed)
    level = np.random.default_rng(99).normal(-2.0, 0.5, size=points) + shift
    return level + 0.05 * rng.normal(size=(2, 200, points))


def test_a_clearly_better_model_is_decisive():
    # b is 0.5 worse at every point: elpd difference 10 with a tiny standard error.
    fits = {"a": fit(pointwise(1)), "b": fit(pointwise(2, shift=-0.5))}
    table = compare.compare_fits("pair", fits)
    assert list(table.columns) == list(compare.COLUMNS) and table.index.name == "block"
    assert sorted(table.index) == ["a", "b"]
    summary = compare.summarize("pair", ["b", "a"], table, {"a": 0.2, "b": 0.3})
    assert summary["leader"] == "a" and summary["runner_up"] == "b"
    assert summary["elpd_diff"] == pytest.approx(10, abs=0.2)
    assert summary["decisive"] is True and summary["unreliable"] == []
    assert sum(summary["weights"].values()) == pytest.approx(1)
    assert summary["weights"]["a"] > 0.99
    assert summary["headline"].startswith("a is ahead of b by 10.0 elpd (se of the difference")
    assert ": more than twice its standard error." in summary["headline"]
    assert set(summary) == JSON_KEYS


def test_a_difference_within_two_standard_errors_is_not_decisive():
    # b is better at half the points and worse at the others: a difference of about 0.4 elpd
    # against a standard error of the difference of about 1.
    shift = np.where(np.arange(20) % 2 == 0, 0.25, -0.21)
    fits = {"a": fit(pointwise(1)), "b": fit(pointwise(2, shift=shift))}
    table = compare.compare_fits("pair", fits)
    summary = compare.summarize("pair", ["a", "b"], table, {"a": 0.1, "b": 0.1})
    assert summary["leader"] == "b" and summary["runner_up"] == "a"
    assert 0 < summary["elpd_diff"] < 2 * summary["dse"]
    assert summary["decisive"] is False
    assert ": not more than twice its standard error." in summary["headline"]
    assert sum(summary["weights"].values()) == pytest.approx(1)


def test_blocks_with_a_bad_pareto_k_are_unreliable():
    fits = {"a": fit(pointwise(1)), "b": fit(pointwise(2, shift=-0.5))}
    table = compare.compare_fits("pair", fits)
    summary = compare.summarize("pair", ["a", "b"], table, {"a": 0.71, "b": 0.7})
    assert summary["unreliable"] == ["a"]
    assert summary["headline"].endswith("; PSIS-LOO is unreliable for a (Pareto k above 0.7).")


def test_mismatched_log_lik_sizes_are_refused_naming_the_blocks():
    fits = {"a": fit(pointwise(1, points=8)), "b": fit(pointwise(2, points=7))}
    with pytest.raises(ConfigError, match=r"comparisons\.pair: .*\(a: 8, b: 7\)"):
        compare.compare_fits("pair", fits)


def test_a_fit_without_log_likelihood_is_refused():
    import arviz as az

    fits = {"a": fit(pointwise(1)), "b": az.from_dict(posterior={"mu": np.zeros((2, 10))})}
    with pytest.raises(ValueError, match="block b: its posterior has no log_likelihood"):
        compare.compare_fits("pair", fits)


def test_compare_writes_the_three_files(tmp_path):
    blocks = ["a", "b", "c"]
    posteriors = []
    for k, block in enumerate(blocks):
        posteriors.append(tmp_path / f"{block}.nc")
        fit(pointwise(k, shift=-0.3 * k)).to_netcdf(str(posteriors[-1]))
    loos = []
    for block, k_max in zip(blocks, (0.2, 0.9, 0.5), strict=True):
        loos.append(tmp_path / f"{block}.loo.json")
        loos[-1].write_text(json.dumps({"pareto_k": {"max": k_max}}))
    out = {name: tmp_path / "out" / f"compare.{name}" for name in ("csv", "png", "json")}
    summary = compare.compare("abc", blocks, posteriors, loos, out["csv"], out["png"], out["json"])
    table = pd.read_csv(out["csv"], index_col=0)
    assert ["block", *compare.COLUMNS] == [table.index.name, *table.columns]
    assert list(table.index) == ["a", "b", "c"] and list(table["rank"]) == [0, 1, 2]
    assert table["weight"].sum() == pytest.approx(1)
    written = json.loads(out["json"].read_text())
    assert written == summary and written["blocks"] == blocks and written["unreliable"] == ["b"]
    assert written["leader"] == "a" and written["runner_up"] == "b" and written["decisive"]
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# log_lik sizes before any fit


def test_generated_quantities_declarations_are_read():
    program = """
    generated quantities {
      array[N] int y_rep = poisson_log_rng(eta);   // initialised
      vector<lower=0>[K] s = rep_vector(1, K);
      real total = 0;
      for (n in 1:N) {
        real inner = 1;                               // not a top-level declaration
        total += 1;
      }
      matrix[N, 2] log_lik;
    }
    """
    declared = parse_generated_block(program)
    assert set(declared) == {"y_rep", "s", "total", "log_lik"}
    assert declared["y_rep"].sizes == ("N",) and declared["s"].sizes == ("K",)
    assert declared["log_lik"].sizes == ("N", "2") and declared["total"].sizes == ()


def write_program(folder: Path, log_lik: str | None) -> str:
    text = (REPO / "stan" / "eight_schools_pooled.stan").read_text()
    if log_lik is None:
        text = text[: text.index("generated quantities")]
    else:
        text = text.replace("vector[J] log_lik;", f"{log_lik};")
    stem = re.sub(r"\W", "_", str(log_lik))
    path = folder / f"p_{stem}.stan"
    path.write_text(text)
    return str(path)


@pytest.fixture
def schools(tmp_path) -> Path:
    table = pd.read_csv(REPO / "data" / "eight_schools.csv")
    table["region"] = ["n", "s", "n", "e", "w", "s", "n", "e"]
    table.to_csv(tmp_path / "schools.csv", index=False)
    table.to_parquet(tmp_path / "schools.parquet")
    return tmp_path


def block(schools: Path, program: str, data="schools.csv", **changes) -> dict:
    return {"program": program, "data": str(schools / data), "stan_data": dict(EIGHT), **changes}


def test_log_lik_sizes_come_from_the_declaration_and_the_data(schools):
    program = write_program(schools, "vector[J] log_lik")
    assert compare.declared_count(block(schools, program), schools) == 8
    assert compare.declared_count(block(schools, program, "schools.parquet"), schools) == 8
    heldout = block(schools, program, heldout={"fraction": 0.25, "seed": 3})
    assert compare.declared_count(heldout, schools) == 6  # the fitted rows only
    literal = block(schools, write_program(schools, "array[J, 3] real log_lik"))
    assert compare.declared_count(literal, schools) == 24
    levels = block(schools, write_program(schools, "vector[G] log_lik"))
    levels["stan_data"]["G"] = {"levels": "region"}
    assert compare.declared_count(levels, schools) == 4
    levels["stan_data"]["G"] = 5
    assert compare.declared_count(levels, schools) == 5
    (schools / "data.json").write_text(json.dumps({"J": 8, "G": 3, "y": [0] * 8}))
    from_json = {"program": levels["program"], "data": str(schools / "data.json")}
    assert compare.declared_count(from_json, schools) == 3
    # Not known before the data job: an expression, a missing table, no declaration read.
    expression = block(schools, write_program(schools, "vector[J - 1] log_lik"))
    assert compare.declared_count(expression, schools) is None
    assert compare.declared_count(block(schools, program, "missing.csv"), schools) is None
    assert compare.declared_count(block(schools, write_program(schools, None)), schools) is None


def programs(blocks: dict) -> dict:
    return {
        name: SimpleNamespace(has_log_lik="log_lik" in Path(b["program"]).read_text())
        for name, b in blocks.items()
    }


def test_comparisons_that_cannot_work_are_refused(schools):
    program = write_program(schools, "vector[J] log_lik")
    blocks = {
        "full": block(schools, program),
        "heldout": block(schools, program, heldout={"fraction": 0.25}),
        "expression": block(schools, write_program(schools, "vector[J - 1] log_lik")),
        "silent": block(schools, write_program(schools, None)),
    }
    infos = programs(blocks)
    compare.check_comparisons({"ok": ["full", "expression"]}, blocks, infos, schools)
    with pytest.raises(ConfigError, match=r"comparisons\.bad names nowhere, which no models:"):
        compare.check_comparisons({"bad": ["full", "nowhere"]}, blocks, infos, schools)
    with pytest.raises(ConfigError, match=r"comparisons\.bad: the program of silent \(.*\.stan\) "):
        compare.check_comparisons({"bad": ["full", "silent"]}, blocks, infos, schools)
    with pytest.raises(ConfigError, match=r"comparisons\.bad: .* differ \(full: 8, heldout: 6\)"):
        compare.check_comparisons({"bad": ["full", "heldout"]}, blocks, infos, schools)
    with pytest.raises(ConfigError, match=r"models\.comparisons: the name is reserved"):
        compare.check_comparisons(
            {"ok": ["full", "expression"]}, {**blocks, "comparisons": {}}, infos, schools
        )


# The workflow refuses them before any job.

NO_LOG_LIK = """data {
  int<lower=1> J;
  vector[J] y;
  vector<lower=0>[J] sigma;
}
parameters {
  real mu;
}
model {
  mu ~ normal(0, 5);
  y ~ normal(mu, sigma);
}
"""


@pytest.mark.e2e
def test_the_workflow_refuses_a_comparison_before_any_job(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    (workdir / "mine").mkdir()
    (workdir / "mine" / "silent.stan").write_text(NO_LOG_LIK)
    table = pd.read_csv(workdir / "data" / "eight_schools.csv")
    table.iloc[:7].to_csv(workdir / "mine" / "seven.csv", index=False)
    shutil.copy(workdir / "stan" / "eight_schools_pooled.stan", workdir / "mine" / "pooled.stan")
    models = {
        "silent": {"program": "mine/silent.stan", "data": "data/eight_schools.csv"},
        "seven": {"program": "mine/pooled.stan", "data": "mine/seven.csv"},
    }
    for entry in models.values():
        entry["stan_data"] = dict(EIGHT)

    def dry_run(comparisons: dict) -> str:
        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(
            yaml.safe_dump({"analyses": ["models"], "models": models, "comparisons": comparisons})
        )
        result = run_snakemake(
            workdir, "--configfile", "config/config.yaml", str(overlay), "-n", check=False
        )
        assert result.returncode != 0, result.stdout[-3000:]
        assert "Job stats" not in result.stdout
        assert not (workdir / "results" / ".work" / "default").exists()
        return " ".join(result.stdout.split())

    output = dry_run({"schools": ["eight_schools", "silent"]})
    assert (
        "comparisons.schools: the program of silent (mine/silent.stan) computes no log_lik"
        in output
    )
    output = dry_run({"schools": ["eight_schools_pooled", "seven", "eight_schools"]})
    assert (
        "comparisons.schools: the blocks' log_lik sizes differ "
        "(eight_schools_pooled: 8, seven: 7, eight_schools: 8)" in output
    )
    output = dry_run({"schools": ["eight_schools", "eight_school"]})
    assert "comparisons.schools names eight_school, which no models: block defines" in output
