"""The config schema: defaults, and errors that name the key before any job runs."""

from __future__ import annotations

import pytest
import yaml

from bayespipe.config import config_errors, load_config, load_schema, validate_config
from bayespipe.errors import ConfigError
from conftest import REPO, run_snakemake


def test_defaults_fill_every_section():
    config = validate_config({})
    assert config["stan"]["engine"] == "auto"
    assert config["tadpoles"]["sampler"]["chains"] == 4
    assert config["zillow"]["models"]["random_intercepts"]["adapt_delta"] == 0.8


def test_unknown_key_is_named():
    errors = config_errors({"zillow": {"n_predictor": 3}})
    assert any(e.startswith("zillow.n_predictor: unknown key") for e in errors), errors


def test_wrong_type_is_named():
    with pytest.raises(
        ConfigError, match=r"tadpoles\.sampler\.chains: 'four' is not of type 'integer'"
    ):
        validate_config({"tadpoles": {"sampler": {"chains": "four"}}})


def test_enum_violation_is_named():
    with pytest.raises(ConfigError, match=r"stan\.engine"):
        validate_config({"stan": {"engine": "jags"}})


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "test.yaml"):
        load_config(REPO / "config" / name)


def test_every_key_has_a_description_and_default():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            dotted = f"{path}.{key}" if path else key
            assert sub.get("description"), f"{dotted} has no description"
            assert "default" in sub, f"{dotted} has no default"
            walk(sub, dotted)

    walk(load_schema(), "")


def test_config_readme_documents_every_key():
    text = (REPO / "config" / "README.md").read_text()

    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            dotted = f"{path}.{key}" if path else key
            assert f"`{dotted}`" in text, f"config/README.md does not document {dotted}"
            walk(sub, dotted)

    walk(load_schema(), "")


@pytest.mark.e2e
def test_snakemake_refuses_bad_config_before_any_job(repo_copy):
    bad = repo_copy / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"analyses": ["tadpoles"], "tadpoles": {"sampler": {"warmup": -5}}})
    )
    result = run_snakemake(repo_copy, "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "tadpoles.sampler.warmup" in result.stdout
    assert not (repo_copy / "results").exists() or not any(
        (repo_copy / "results").glob("**/tadpoles")
    )


def test_config_readme_is_current():
    from bayespipe.config_docs import render

    assert (REPO / "config" / "README.md").read_text() == render(), (
        "config/README.md is stale: python -m bayespipe.config_docs > config/README.md"
    )


def test_validated_config_is_ordered_by_key():
    """Snakemake compares dict params as written: key order in a file must not matter."""
    from bayespipe.config import validate_config

    a = validate_config({"tadpoles": {"sampler": {"seed": 3, "chains": 2}}})
    b = validate_config({"tadpoles": {"sampler": {"chains": 2, "seed": 3}}})
    assert list(a["tadpoles"]["sampler"]) == sorted(a["tadpoles"]["sampler"])
    assert repr(a) == repr(b)
