"""environment.yml lists the same packages at the same versions as requirements*.txt."""

from __future__ import annotations

import re

import yaml

from conftest import REPO

# PyPI name -> conda-forge name where they differ.
CONDA_NAMES = {"pyyaml": "pyyaml"}


def pip_pins() -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                package, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line).groups()
                pins[package.lower()] = version
    return pins


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                package, version = line.split("==")
                pins[package.lower()] = version
        elif "=" in dep:
            package, version = dep.split("=", 1)
            pins[package.lower()] = version
    return pins


def test_every_pip_pin_is_in_environment_yml():
    conda = conda_pins()
    for package, version in pip_pins().items():
        name = CONDA_NAMES.get(package, package)
        assert conda.get(name) == version, (
            f"environment.yml: {name} should be pinned to {version}, has {conda.get(name)}"
        )


def test_environment_yml_has_nothing_extra():
    extra = set(conda_pins()) - {CONDA_NAMES.get(p, p) for p in pip_pins()} - {"python", "cmdstan"}
    assert not extra, f"environment.yml pins packages missing from requirements: {sorted(extra)}"


def test_environment_yml_has_cmdstan_and_python():
    conda = conda_pins()
    assert conda["python"] == "3.11"
    assert conda["cmdstan"]
