"""posteriordb's reference posteriors through `models:` blocks, with `benchmarks/posteriordb.py`.

Three quick posteriors of ``../shared/data/posteriordb``, each a block with only its program and
its CmdStan JSON data file: two on CmdStan, one on PyStan. Each must match posteriordb's
reference means (|z| <= 5 for every parameter), name elements as Stan does (from 1), list the
data file's variables the program does not read, and a data file with a value out of bounds
stops before any compile, naming the file, the variable and the element. The full twenty are the
benchmark's (`python benchmarks/posteriordb.py ../shared/data/posteriordb`).
"""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from bayespipe.audit.check import audit
from conftest import REPO, require_cmdstan, run_snakemake, version_dir_of

sys.path.insert(0, str(REPO / "benchmarks"))
import posteriordb  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FOLDER = REPO.parent / "shared" / "data" / "posteriordb"
ON_CMDSTAN = ["eight_schools-eight_schools_noncentered", "kidiq-kidscore_momhs"]
ON_PYSTAN = ["mesquite-logmesquite_logvolume"]


def require_posteriordb() -> None:
    if not FOLDER.is_dir():
        message = f"posteriordb's posteriors are not here ({FOLDER} is absent)"
        print(f"SKIPPED: {message}")  # the JSON data checks run in tests/test_models_json.py
        pytest.skip(message)


@pytest.fixture(scope="module")
def cmdstan_run(tmp_path_factory) -> dict:
    require_posteriordb()
    require_cmdstan()
    workdir = tmp_path_factory.mktemp("posteriordb") / "repo"
    result = posteriordb.run(FOLDER, workdir, only=ON_CMDSTAN, engine="cmdstanpy")
    return {**result, "workdir": workdir}


def rows_by_posterior(result: dict) -> dict:
    return {row["posterior"]: row for row in result["rows"]}


def test_reference_posteriors_match_on_cmdstan(cmdstan_run):
    assert cmdstan_run["snakemake_exit"] == 0, cmdstan_run["console_tail"]
    rows = rows_by_posterior(cmdstan_run)
    assert set(rows) == set(ON_CMDSTAN)
    for name, row in rows.items():
        assert row["matched"], (name, row)
        assert not row["missing"], (name, row["missing"])
        assert row["gates"] in ("passed", "failed") and row["fit_s"] > 0
    assert audit(version_dir_of(cmdstan_run["workdir"])) == []


def test_stan_names_count_from_one(cmdstan_run):
    version = version_dir_of(cmdstan_run["workdir"])
    summary = pd.read_csv(
        version / "models" / "pdb_eight_schools_eight_schools_noncentered" / "summary.csv",
        index_col=0,
    )
    for name in ("theta_trans", "theta"):
        assert [i for i in summary.index if i.startswith(f"{name}[")] == [
            f"{name}[{k}]" for k in range(1, 9)
        ]


def test_variables_the_program_does_not_read_are_listed(cmdstan_run):
    card = json.loads(
        (
            version_dir_of(cmdstan_run["workdir"])
            / "models/pdb_kidiq_kidscore_momhs/data/data_card.json"
        ).read_text()
    )
    assert card["ignored_variables"] == ["mom_iq", "mom_hs_new", "mom_iq_new"]
    assert sorted(card["from_file"]) == ["N", "kid_score", "mom_hs"]


def test_a_value_out_of_bounds_stops_before_the_compile(cmdstan_run, tmp_path):
    workdir = cmdstan_run["workdir"]
    source = FOLDER / "kidiq-kidscore_momhs"
    data = json.loads((source / "data.json").read_text())
    data["kid_score"][16] = 250
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(source / "program.stan", bad / "program.stan")
    (bad / "data.json").write_text(json.dumps(data))
    posteriordb.write_config(workdir, [bad], "cmdstanpy")
    result = run_snakemake(workdir, check=False)
    assert result.returncode != 0
    assert f"{bad / 'data.json'}: kid_score[17] = 250 is above the declared upper bound 200" in (
        result.stdout
    )
    assert "Error in rule models_data" in result.stdout
    assert not (workdir / "results/.work/posteriordb/models/pdb_bad/stan").exists()


def test_reference_posterior_matches_on_pystan(tmp_path):
    require_posteriordb()
    result = posteriordb.run(FOLDER, tmp_path / "repo", only=ON_PYSTAN, engine="pystan")
    assert result["snakemake_exit"] == 0, result["console_tail"]
    (row,) = result["rows"]
    assert row["matched"], row
    assert set(row["z"]) == {"beta[1]", "beta[2]", "sigma"}
