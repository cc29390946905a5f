"""Version ids: stable under no change, changed by each kind of change; per-analysis digests."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from bayespipe import versioning
from bayespipe.config import validate_config

from conftest import copy_repo

SOFTWARE = {"python": "3.11.7", "pandas": "3.1.1"}


@pytest.fixture
def repo(tmp_path) -> Path:
    return copy_repo(tmp_path / "repo")


def version(repo: Path, config: dict | None = None, software: dict | None = None) -> versioning.VersionInfo:
    config = validate_config(copy.deepcopy(config) if config else {})
    return versioning.compute_version(repo, config, software or SOFTWARE)


def test_same_inputs_same_version(repo):
    assert version(repo).id == version(repo).id


def test_config_change_changes_version(repo):
    assert version(repo, {"tadpoles": {"sampler": {"seed": 1}}}).id != version(repo).id


def test_code_change_changes_version(repo):
    before = version(repo)
    script = repo / "workflow" / "scripts" / "reedfrogs_prepare.py"
    script.write_text(script.read_text() + "\n# a comment\n")
    assert version(repo).id != before.id


def test_stan_program_change_changes_version(repo):
    before = version(repo)
    (repo / "stan").mkdir(exist_ok=True)
    (repo / "stan" / "extra.stan").write_text("parameters { real x; }\nmodel { x ~ std_normal(); }\n")
    assert version(repo).id != before.id


def test_data_change_changes_version(repo):
    before = version(repo)
    data = repo / "data" / "reedfrogs.csv"
    data.write_text(data.read_text().replace("10,no,big,9,0.9", "10,no,big,8,0.8", 1))
    assert version(repo).id != before.id


def test_software_change_changes_version(repo):
    assert version(repo, software={**SOFTWARE, "pandas": "9.9"}).id != version(repo).id


def test_touching_without_change_keeps_version(repo):
    before = version(repo)
    os.utime(repo / "data" / "reedfrogs.csv", None)
    os.utime(repo / "Snakefile", None)
    assert version(repo).id == before.id


def test_run_label_prefixes_id(repo):
    labelled = version(repo, {"run_label": "trial"})
    assert labelled.id.startswith("trial-") and len(labelled.id) == len("trial-") + versioning.DIGEST_LENGTH


def test_one_analysis_config_changes_only_its_digest(repo):
    base = version(repo).analysis_digests
    changed = version(repo, {"moons": {"seed": 7}}).analysis_digests
    assert changed["moons"] != base["moons"]
    assert {k: v for k, v in changed.items() if k != "moons"} == {k: v for k, v in base.items() if k != "moons"}


def test_analysis_code_changes_only_its_digest(repo):
    base = version(repo).analysis_digests
    rules = repo / "workflow" / "rules" / "tadpoles.smk"
    rules.write_text(rules.read_text() + "\n# note\n")
    changed = version(repo).analysis_digests
    assert changed["tadpoles"] != base["tadpoles"]
    assert changed["moons"] == base["moons"]


def test_core_code_changes_every_digest(repo):
    base = version(repo).analysis_digests
    (repo / "Snakefile").write_text((repo / "Snakefile").read_text() + "\n# note\n")
    changed = version(repo).analysis_digests
    assert all(changed[name] != base[name] for name in base)


def test_link_tree_hard_links(tmp_path):
    source = tmp_path / "a" / "x"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("hello")
    assert versioning.link_tree(source, tmp_path / "b" / "x") == 1
    linked = tmp_path / "b" / "x" / "sub" / "f.txt"
    assert linked.read_text() == "hello"
    assert linked.stat().st_ino == (source / "sub" / "f.txt").stat().st_ino
