"""Version folders for the report, lineage, diff, reproduce and RO-Crate tests, built once
per session.

They derive from conftest's ``test_run`` (one run of config/test.yaml) without touching it:
``workspace`` is a copy of that checkout with a second version whose config differs in exactly
one key (``CHANGED_KEY``), and ``tampered`` is a copy of the first version folder with one result
file altered after the run. The results are cached per process so every test module shares them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from conftest import TEST_CONFIG, run_snakemake, version_dir_of

CHANGED_KEY = "diagnostics.max_rhat"
CHANGED_VALUE = 1.0  # no finite chain reaches R-hat 1.0 exactly: version B fails its R-hat gates
TAMPERED_FILE = "tadpoles/data/reedfrogs.parquet"


@dataclass
class Versions:
    workspace: Path  # copy of the test_run checkout holding both versions
    a: Path  # the test_run version (config/test.yaml)
    b: Path  # config/test.yaml with CHANGED_KEY = CHANGED_VALUE
    tampered: Path  # copy of version a with TAMPERED_FILE altered


_CACHE: dict[str, Versions] = {}


def second_config(workspace: Path) -> Path:
    config = yaml.safe_load((workspace / TEST_CONFIG).read_text())
    section, key = CHANGED_KEY.split(".")
    config.setdefault(section, {})[key] = CHANGED_VALUE
    path = workspace / "config" / "test-changed.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def tamper(version_dir: Path, rel: str = TAMPERED_FILE) -> None:
    """Change one number of a result table, the way a hand edit after the run would."""
    path = version_dir / rel
    table = pd.read_parquet(path)
    column = table.select_dtypes("number").columns[0]
    table.loc[0, column] = table.loc[0, column] + 1
    # The copy may share an inode with other versions (hard links): never write through it.
    path.unlink()
    table.to_parquet(path, index=False)


def run_in(workspace: Path, *args: str):
    """Snakemake in ``workspace`` importing that checkout's bayespipe (not the installed one)."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workspace / "workflow"), saved]))
    try:
        return run_snakemake(workspace, *args)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def versions(test_run: Path, scratch: Path) -> Versions:
    if "v" in _CACHE:
        return _CACHE["v"]
    workspace = scratch / "repo"
    shutil.copytree(test_run, workspace, symlinks=True)
    a = version_dir_of(workspace)
    run_in(workspace, "--configfile", str(second_config(workspace).relative_to(workspace)))
    b = version_dir_of(workspace)
    assert a != b, "the changed config key did not give a new version"
    tampered = scratch / "tampered" / a.name
    shutil.copytree(a, tampered)
    tamper(tampered)
    _CACHE["v"] = Versions(workspace, a, b, tampered)
    return _CACHE["v"]
