"""bayespipe.versions on hand-made results folders: listing, tags, and what gc keeps."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from bayespipe import versions, versions_cli
from bayespipe.errors import InputError
from bayespipe.report.html import write_report

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.fake_version import complete, make_version, run_info  # noqa: E402


@pytest.fixture
def results(tmp_path) -> Path:
    """v0 (a_bar 3.0), then v1 (a_bar 1.35), both complete; v2 stopped before its manifest."""
    results = tmp_path / "results"
    complete(make_version(results, "v0", a_bar=3.0), {}, end_time="2026-01-01T00:00:00")
    complete(make_version(results, "v1", a_bar=1.35), {}, end_time="2026-01-02T00:00:00")
    (results / "v2" / "tadpoles").mkdir(parents=True)
    (results / "latest").symlink_to("v1")
    return results


def test_versions_newest_first_with_state_and_what_moved(results):
    found = versions.list_versions(results, moved=versions_cli.most_moved)
    assert [(v.id, v.state) for v in found] == [
        ("v2", "partial"),
        ("v1", "complete"),
        ("v0", "complete"),
    ]
    v1 = found[1]
    assert v1.latest and v1.previous == "v0"
    moved = {m.result: (m.before, m.after) for m in v1.moved}
    assert moved["Tadpoles: posterior mean of a_bar"] == (3.0, 1.35)
    assert found[2].moved == [] and found[2].previous is None


def test_tags_resolve_and_refuse_partial_or_bad_names(results):
    link = versions.tag(results, "latest", "paper")
    assert str(link.readlink()) == "../v1"
    assert versions.resolve(results, "paper") == (results / "v1").resolve()
    versions.tag(results, "paper", "again")
    assert versions.tags(results) == {"v1": ["again", "paper"]}
    with pytest.raises(InputError, match="partial version"):
        versions.tag(results, "v2", "broken")
    with pytest.raises(InputError, match="tag name 'a/b'"):
        versions.tag(results, "v1", "a/b")
    with pytest.raises(InputError, match="named 'nothing'"):
        versions.resolve(results, "nothing")


def test_report_names_the_tags_of_the_version_it_compares_with(results):
    versions.tag(results, "v1", "baseline")
    current = make_version(results, "v3", a_bar=1.0)
    info = run_info(version="v3", config={"report": True}, code={"a.py": "2"})
    written = write_report(
        current, current / "report" / "index.html", info, results_dir=results, files=None
    )
    assert written.compared_with == "v1"
    assert "Compared with version <b>v1</b> (tagged baseline)" in written.path.read_text()


def _job(root: Path, work: Path, name: str, content: str) -> Path:
    out = work / "a" / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content)
    record = work / "a" / "logs" / f"{name}.job.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"rule": name, "outputs": [str(out.relative_to(root))]}))
    return out


def _link_into(version: Path, work: Path, *names: str) -> None:
    for name in names:
        for rel in (f"a/{name}.txt", f"a/logs/{name}.job.json"):
            (version / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(work / rel, version / rel)
    (version / "manifest.json").write_text(json.dumps({"end_time": version.name}))


def test_gc_removes_only_what_no_kept_version_links(tmp_path):
    root, results = tmp_path, tmp_path / "results"
    work = results / ".work" / "test"
    _job(root, work, "old", "x" * 1000)
    _job(root, work, "shared", "y" * 10)
    _link_into(results / "2026-01-01", work, "old", "shared")
    _link_into(results / "2026-01-02", work, "shared")
    plan = versions.plan_collection(results, keep=1)
    assert plan.kept == ["2026-01-02"] and plan.removed == ["2026-01-01"]
    assert sorted(Path(f).name for f in plan.work_files) == ["old.job.json", "old.txt"]
    only_old = [work / "a" / "logs" / "old.job.json", results / "2026-01-01" / "manifest.json"]
    # the shared files stay linked by the kept version: not freed
    assert plan.freed_bytes == 1000 + sum(p.stat().st_size for p in only_old)
    versions.collect(results, plan)
    assert not (results / "2026-01-01").exists() and not (work / "a" / "old.txt").exists()
    assert (results / "2026-01-02" / "a" / "shared.txt").read_text() == "y" * 10
    assert (work / "a" / "shared.txt").exists()


def test_every_command_that_takes_a_version_takes_a_tag_or_an_id(results, monkeypatch):
    from bayespipe.cli import build_parser

    versions.tag(results, "v1", "paper")
    monkeypatch.chdir(results.parent)
    parser = build_parser()
    for argv in (["audit", "paper"], ["reproduce", "paper"], ["rocrate", "paper"]):
        assert parser.parse_args(argv).version_dir == (results / "v1").resolve(), argv
    both = parser.parse_args(["diff", "v0", "paper"])
    expected = ((results / "v0").resolve(), (results / "v1").resolve())
    assert (both.version_a, both.version_b) == expected
    assert parser.parse_args(["audit", "nowhere"]).version_dir == Path("nowhere")
