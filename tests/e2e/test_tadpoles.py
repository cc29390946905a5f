"""The tadpoles analysis in the end-to-end run of config/test.yaml (Snakemake, PyStan here)."""

import json

import pytest

from conftest import version_dir_of

pytestmark = pytest.mark.e2e

FIT = [
    "posterior.nc",
    "summary.csv",
    "diagnostics.json",
    "trace.png",
    "densities.png",
    "metrics.json",
]
FIGURES = ["logits.png", "survival.png", "shrinkage.png", "ppc.png"]


@pytest.fixture(scope="module")
def tadpoles_dir(test_run):
    return version_dir_of(test_run) / "tadpoles"


def test_outputs_exist_and_are_in_the_manifest(tadpoles_dir):
    manifest = json.loads((tadpoles_dir.parent / "manifest.json").read_text())
    listed = {entry["path"]: entry for entry in manifest["files"]}
    expected = [
        "stan/tadpoles.compile.json",
        *(f"fit/{n}" for n in FIT),
        *(f"figures/{n}" for n in FIGURES),
    ]
    for rel in expected:
        assert (tadpoles_dir / rel).stat().st_size > 0, rel
        assert f"tadpoles/{rel}" in listed, f"{rel} missing from the manifest"
    assert listed["tadpoles/fit/posterior.nc"]["rule"] == "tadpoles_fit"
    assert listed["tadpoles/figures/survival.png"]["rule"] == "tadpoles_figures"


def test_fit_used_the_compile_stamp_and_passed_the_gates(tadpoles_dir):
    stamp = json.loads((tadpoles_dir / "stan" / "tadpoles.compile.json").read_text())
    metrics = json.loads((tadpoles_dir / "fit" / "metrics.json").read_text())
    record = json.loads((tadpoles_dir / "logs" / "tadpoles_fit.job.json").read_text())
    assert stamp["engine"] == metrics["engine"] == record["extra"]["engine"]["engine"]
    assert (
        record["stan_file"] == "stan/tadpoles.stan"
        and record["stan_file_sha256"] == stamp["stan_sha256"]
    )
    assert metrics["gates_passed"] is True and metrics["divergences"] == 0
    assert 1.1 < metrics["a_bar"]["mean"] < 1.6 and 1.3 < metrics["sigma"]["mean"] < 1.9
    log = (tadpoles_dir / "logs" / "tadpoles_fit.log").read_text()
    assert "Sampling" in log or "Iteration" in log  # Stan's progress goes to the rule log


def test_tadpoles_as_a_config_block_gives_the_same_draws(test_run):
    """Tadpoles written as a models: block draws what the tadpoles analysis draws.

    config/examples/tadpoles.yaml (with the test sampler, as in config/test.yaml) against the
    tadpoles analysis: same program, table and seed, so the same posterior draws.
    """
    import arviz as az
    import numpy as np
    import yaml

    example = yaml.safe_load((test_run / "config/examples/tadpoles.yaml").read_text())
    test_config = yaml.safe_load((test_run / "config/test.yaml").read_text())
    block, tested = example["models"]["tadpoles"], test_config["models"]["tadpoles"]
    assert {k: v for k, v in block.items() if k != "sampler"} == {
        k: v for k, v in tested.items() if k != "sampler"
    }
    seed = block["sampler"]["seed"]
    assert tested["sampler"] == {**test_config["tadpoles"]["sampler"], "seed": seed}
    version = version_dir_of(test_run)
    analysis = az.from_netcdf(version / "tadpoles" / "fit" / "posterior.nc").posterior
    from_block = az.from_netcdf(version / "models" / "tadpoles" / "posterior.nc").posterior
    for name in ("a_bar", "sigma", "z"):
        np.testing.assert_array_equal(analysis[name].values, from_block[name].values)
