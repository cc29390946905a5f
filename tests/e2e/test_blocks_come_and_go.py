"""Config blocks come and go: every edit of models: and analyses: leaves a run that works.

One checkout whose config/config.yaml is edited between runs, as a user edits it: a block whose fit
fails, then that block removed; two blocks removed; a block renamed; an analysis dropped. After
each edit the next run exits 0, runs only what the edit touches (the report, or the renamed
block's jobs and the report), `snakemake -n` lists the same jobs, the new version audits and has
no folder for what was removed. Before the fix, a removed block's job records in the work tree
stopped every later run at parse time (KeyError in model_data_block).
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from bayespipe.audit.check import audit
from conftest import copy_repo, executed_jobs, git_checkout, run_snakemake, version_dir_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPORT_ONLY = {"report_code_snapshot": 1, "report_html": 1, "all": 1}
SHORT = {"chains": 2, "warmup": 300, "draws": 300, "adapt_delta": 0.95}


def eight_schools(data: str, seed: int) -> dict:
    return {
        "program": "stan/eight_schools.stan",
        "data": data,
        "stan_data": {"J": "rows", "y": {"column": "effect"}, "sigma": {"column": "stderr"}},
        "sampler": {**SHORT, "seed": seed},
    }


def edit_config(workdir, change) -> None:
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def dry_then_run(workdir) -> tuple[dict, dict]:
    """The jobs `snakemake -n` lists and the jobs the run then executes (it must exit 0)."""
    planned = executed_jobs(run_snakemake(workdir, "--dry-run").stdout)
    return planned, executed_jobs(run_snakemake(workdir).stdout)


def model_folders(version) -> set[str]:
    return {p.name for p in (version / "models").iterdir() if p.is_dir()} - {"logs", "benchmarks"}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A run of four blocks (one of them failing in its fit) and the tadpoles."""
    workdir = copy_repo(tmp_path_factory.mktemp("blocks") / "repo")
    table = pd.read_csv(workdir / "data" / "eight_schools.csv")
    table.loc[3, "stderr"] = 0  # within the declared bound, but normal(theta, 0) fails at init
    table.to_csv(workdir / "data" / "broken.csv", index=False)

    def first(config):
        config.update(run_label="blocks", analyses=["tadpoles", "models"], comparisons={})
        config["diagnostics"] = {"max_rhat": 1.05, "min_ess_bulk": 100, "min_ess_tail": 100}
        config["tadpoles"]["sampler"] = {"chains": 2, "warmup": 300, "draws": 300}
        config["models"] = {
            "school_a": eight_schools("data/eight_schools.csv", 1),
            "school_b": eight_schools("data/eight_schools.csv", 2),
            "school_c": eight_schools("data/eight_schools.csv", 3),
            "broken": eight_schools("data/broken.csv", 4),
        }

    edit_config(workdir, first)
    git_checkout(workdir)
    failed = run_snakemake(workdir, "--keep-going", check=False)
    assert failed.returncode != 0 and "Error in rule models_fit" in failed.stdout
    assert "Scale parameter[4] is 0" in failed.stdout
    return workdir


def test_removing_the_block_whose_fit_failed_runs_only_the_report(checkout):
    edit_config(checkout, lambda config: config["models"].pop("broken"))
    planned, ran = dry_then_run(checkout)
    assert planned == ran == REPORT_ONLY
    version = version_dir_of(checkout)
    assert audit(version) == []
    assert model_folders(version) == {"school_a", "school_b", "school_c"}
    assert not any("broken" in p.name for p in version.rglob("*"))


def test_removing_two_blocks_runs_only_the_report(checkout):
    def remove(config):
        del config["models"]["school_b"], config["models"]["school_c"]

    edit_config(checkout, remove)
    planned, ran = dry_then_run(checkout)
    assert planned == ran == REPORT_ONLY
    version = version_dir_of(checkout)
    assert audit(version) == []
    assert model_folders(version) == {"school_a"}
    manifest = (version / "manifest.json").read_text()
    assert "models/school_b/" not in manifest and "models/school_c/" not in manifest


def test_renaming_a_block_runs_its_jobs_under_the_new_name(checkout):
    edit_config(
        checkout, lambda config: config["models"].update(school_z=config["models"].pop("school_a"))
    )
    planned, ran = dry_then_run(checkout)
    assert planned == ran
    assert ran["models_fit"] == 1 and ran["report_html"] == 1 and "tadpoles_fit" not in ran
    version = version_dir_of(checkout)
    assert audit(version) == []
    assert model_folders(version) == {"school_z"}


def test_dropping_an_analysis_runs_only_the_report(checkout):
    edit_config(checkout, lambda config: config.update(analyses=["models"]))
    planned, ran = dry_then_run(checkout)
    assert planned == ran == REPORT_ONLY
    version = version_dir_of(checkout)
    assert audit(version) == []
    assert not (version / "tadpoles").exists() and (version / "models" / "school_z").is_dir()
