"""`bayespipe versions`, `tag` and `gc` end to end on three versions of the tadpoles run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bayespipe.audit.check import audit
from conftest import copy_run, run_snakemake, version_dir_of
from e2e.test_no_change_ignored import with_seed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def bayespipe(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "bayespipe.cli", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def du_bytes(path: Path) -> int:
    """Apparent size of a folder, each hard-linked file counted once (as du does)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture(scope="module")
def three_versions(tadpoles_run, tmp_path_factory) -> tuple[Path, list[str]]:
    """The tadpoles run and two reruns with other seeds: version ids oldest first."""
    tmp = tmp_path_factory.mktemp("versions")
    done = copy_run(tadpoles_run, tmp / "repo")
    ids = [version_dir_of(done).name]
    for seed in (4242, 4343):
        run_snakemake(done, *with_seed(done, tmp, seed))
        ids.append(version_dir_of(done).name)
    return done, ids


def test_versions_lists_every_version_newest_first(three_versions):
    done, ids = three_versions
    text = bayespipe(done, "versions").stdout
    lines = [line for line in text.splitlines()[1:] if line.strip()]
    assert [line.split()[0] for line in lines] == ids[::-1]
    newest = lines[0]
    assert "complete" in newest and "[latest]" in newest and "test" in newest
    assert "moved since " + ids[1] in newest, newest
    rows = json.loads(bayespipe(done, "versions", "--json").stdout)
    assert [r["id"] for r in rows] == ids[::-1]
    first = rows[-1]
    assert first["state"] == "complete" and first["executor"] == "local"
    assert first["stan_engine"] in ("cmdstanpy", "pystan") and first["git_commit"]
    assert first["files_made"] > 0 and first["files_reused"] == 0
    assert rows[0]["files_reused"] > 0 and rows[0]["previous"] == ids[1]
    assert rows[0]["moved"], "a new seed moves the tadpoles' headline numbers"


def test_tag_names_a_version_everywhere(three_versions):
    done, ids = three_versions
    bayespipe(done, "tag", ids[0], "baseline")
    assert (done / "results" / "tags" / "baseline").resolve().name == ids[0]
    assert "[baseline]" in bayespipe(done, "versions").stdout
    assert bayespipe(done, "audit", "results/tags/baseline").stdout.strip() == "OK"
    diff = bayespipe(done, "diff", "results/tags/baseline", "results/latest", check=False)
    assert diff.returncode == 1 and "tadpoles.sampler.seed" in diff.stdout, diff.stdout[:2000]
    bayespipe(done, "tag", "baseline", "first")  # a tag is accepted where a version is
    assert (done / "results" / "tags" / "first").resolve().name == ids[0]
    bad = bayespipe(done, "tag", "nope", "x", check=False)
    assert bad.returncode == 1 and "no version, tag or version folder named 'nope'" in bad.stderr
    bayespipe(done, "tag", "--delete", "x", "first")
    assert not (done / "results" / "tags" / "first").exists()


def test_gc_keeps_tagged_and_latest_and_frees_what_it_claims(three_versions):
    done, ids = three_versions
    results = done / "results"
    bayespipe(done, "tag", ids[0], "baseline")
    before = du_bytes(results)
    dry = json.loads(bayespipe(done, "gc", "--keep", "1", "--json").stdout)
    assert dry["dry_run"] and dry["removed"] == [ids[1]], dry
    assert set(dry["kept"]) == {ids[0], ids[2]}
    assert du_bytes(results) == before and (results / ids[1]).is_dir(), "a dry run removes nothing"
    folders = sum(1 for p in (results / ids[1]).rglob("*") if p.is_dir()) + 1
    done_gc = bayespipe(done, "gc", "--keep", "1", "--yes").stdout
    after = du_bytes(results)
    print(f"gc: du -sb before {before}, after {after}, claimed {dry['freed_bytes']}")
    assert not (results / ids[1]).exists() and "removed 1 version(s)" in done_gc
    freed = before - after
    assert dry["freed_bytes"] > 0
    assert dry["freed_bytes"] <= freed <= dry["freed_bytes"] + folders * 4096
    for kept in (ids[0], ids[2]):
        assert audit(results / kept) == [], kept
    again = json.loads(bayespipe(done, "gc", "--keep", "1", "--json").stdout)
    assert again["removed"] == [] and again["freed_bytes"] == 0
