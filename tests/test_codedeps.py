"""Job code keys derived from imports: what a script imports counts, nothing else does."""

from __future__ import annotations

import sys
from pathlib import Path

from bayespipe import codedeps


def _package(root: Path) -> Path:
    pkg = root / "workflow" / "bayespipe"
    files = {
        "__init__.py": "",
        "io.py": "import json\n",
        "unused.py": "X = 1\n",
        "engines/__init__.py": "",
        "engines/tfp.py": "def setup():\n    from bayespipe import io\n    return io\n",
        "analyses/__init__.py": "",
        "analyses/moons/__init__.py": "",
        "analyses/moons/network.py": "from ...engines import tfp\nfrom bayespipe.io import *\n",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    script = root / "workflow" / "scripts" / "moons_fit.py"
    script.parent.mkdir(parents=True)
    script.write_text("from bayespipe.analyses.moons import network\nnetwork\n")
    rules = root / "workflow" / "rules" / "moons.smk"
    rules.parent.mkdir(parents=True)
    rules.write_text(
        "rule moons_fit:\n    output:\n        'x'\n"
        "    script:\n        '../scripts/moons_fit.py'\n"
        "\n\nfor _m in ['a']:\n\n    rule:\n        name:\n            f'fit_{_m}'\n"
        "        output:\n            f'{_m}.txt'\n\n\nrule other:\n    output:\n        'y'\n"
    )
    return pkg


def _rel(paths, root):
    return sorted(str(p.relative_to(root.resolve())) for p in paths)


def test_closure_follows_relative_lazy_and_parent_imports(tmp_path):
    pkg = _package(tmp_path)
    closure = codedeps.import_closure(tmp_path / "workflow/scripts/moons_fit.py", pkg)
    assert _rel(closure, pkg) == [
        "__init__.py",
        "analyses/__init__.py",
        "analyses/moons/__init__.py",
        "analyses/moons/network.py",
        "engines/__init__.py",
        "engines/tfp.py",
        "io.py",  # imported inside a function of engines/tfp.py
    ]


def test_module_nobody_imports_changes_no_key(tmp_path):
    pkg = _package(tmp_path)
    key = lambda: codedeps.job_code(  # noqa: E731
        tmp_path,
        "moons_fit",
        tmp_path / "workflow/rules/moons.smk",
        tmp_path / "workflow/scripts/moons_fit.py",
        pkg,
    )
    before = key()
    codedeps._module_imports.cache_clear()
    (pkg / "unused.py").write_text("X = 2  # changed\n")
    assert key() == before
    (pkg / "engines/tfp.py").write_text((pkg / "engines/tfp.py").read_text() + "# a comment\n")
    after = key()
    assert after != before
    assert [k for k in after if after[k] != before.get(k)] == ["workflow/bayespipe/engines/tfp.py"]


def test_rule_source_by_name_and_by_line(tmp_path):
    _package(tmp_path)
    rules = tmp_path / "workflow/rules/moons.smk"
    named = codedeps.rule_source(rules, "moons_fit")
    assert (
        named.startswith("rule moons_fit:")
        and "moons_fit.py" in named
        and "rule other" not in named
    )
    looped = codedeps.rule_source(rules, "fit_a", lineno=11)
    assert (
        looped.strip().startswith("rule:")
        and "f'fit_{_m}'" in looped
        and "rule other" not in looped
    )


def test_loaded_modules_are_those_of_this_checkout():
    root = Path(codedeps.__file__).resolve().parents[2]
    loaded = codedeps.loaded_package_modules(root, sys.modules)
    assert "workflow/bayespipe/codedeps.py" in loaded
    assert all(path.startswith("workflow/bayespipe/") for path in loaded)


def _job_key(root: Path, script: str, engine: str) -> dict[str, str]:
    from bayespipe.engines.stan.engine import ENGINE_MODULES

    return codedeps.job_code(
        root,
        "calibration_stan_compile",
        root / "workflow/rules/calibration.smk",
        root / "workflow/scripts" / script,
        root / "workflow/bayespipe",
        dynamic={"bayespipe.engines.stan.engine": [ENGINE_MODULES[engine][0]]},
    )


def test_a_pystan_edit_changes_no_cmdstan_job(tmp_path):
    """The package's own Stan jobs: only the engine a job runs is in its key."""
    import shutil

    repo = Path(__file__).resolve().parents[1]
    for part in ("workflow/bayespipe", "workflow/scripts", "workflow/rules"):
        shutil.copytree(repo / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    codedeps._module_imports.cache_clear()
    cmdstan_key = _job_key(tmp_path, "stan_compile.py", "cmdstanpy")
    pystan_key = _job_key(tmp_path, "stan_compile.py", "pystan")
    cmdstan_file = "workflow/bayespipe/engines/stan/cmdstanpy_engine.py"
    pystan_file = "workflow/bayespipe/engines/stan/pystan_engine.py"
    assert cmdstan_file in cmdstan_key and pystan_file not in cmdstan_key
    assert pystan_file in pystan_key and cmdstan_file not in pystan_key

    pystan = tmp_path / pystan_file
    pystan.write_text(pystan.read_text() + "# a PyStan-only edit\n")
    codedeps._module_imports.cache_clear()
    assert _job_key(tmp_path, "stan_compile.py", "cmdstanpy") == cmdstan_key
    assert _job_key(tmp_path, "stan_compile.py", "pystan") != pystan_key
