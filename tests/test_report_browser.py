"""The HTML report in headless Chromium, as a reader sees it.

The first screen shows the results table with the tutorial column, only gate verdicts are painted as
failures, every image loads, internal links resolve, no console errors, and the page is valid HTML5.

Runs on a small hand-made version folder (fast) and, marked e2e, on the report of a real run of
config/test.yaml. Needs Debian's chromium (/usr/bin/chromium; CI installs it in .ci/run). The
screenshots are kept as test artifacts in test-artifacts/report*.png.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from bayespipe.report.html import write_report

sys.path.insert(0, str(Path(__file__).parent))
from browser import cdp  # noqa: E402
from fixtures.fake_version import make_version, run_info  # noqa: E402
from fixtures.versions import versions  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
GATE_TEXT = re.compile(r"^(FAIL|\d+ of \d+ failed)$")
FIXED_SECTIONS = 5  # results, run, what changed, provenance, warnings


def inspect(html: Path, name: str) -> cdp.PageReport:
    if not cdp.available():
        pytest.skip(
            f"{cdp.CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium)"
        )
    return cdp.inspect_page(html, ARTIFACTS / f"{name}.png", ARTIFACTS / f"{name}-first-screen.png")


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    version = make_version(tmp_path_factory.mktemp("browser") / "results")
    for rel in ("manifest.json", "ro-crate-metadata.json", "report/code-snapshot/Snakefile"):
        (version / rel).parent.mkdir(parents=True, exist_ok=True)
        (version / rel).write_text("{}")
    html = write_report(version, version / "report" / "index.html", run_info()).path
    return html, inspect(html, "report-small")


@pytest.fixture(scope="module")
def e2e(report_versions):
    html = report_versions.b / "report" / "index.html"
    return html, inspect(html, "report")


@pytest.fixture(params=["fake", pytest.param("e2e", marks=pytest.mark.e2e)])
def rendered(request):
    return request.getfixturevalue(request.param)


def test_first_screen_shows_the_results_table_with_the_tutorial_column(rendered):
    _, page = rendered
    assert page.first_screen_shot.is_file() and page.first_screen_shot.stat().st_size > 10_000
    tables = {t["id"]: t for t in page.first_screen}
    assert "results-table" in tables, f"first screen shows only {list(tables)}"
    headers = tables["results-table"]["headers"]
    assert "Tutorial reported" in headers and "This version" in headers and "Verdict" in headers
    assert tables["results-table"]["top"] < cdp.VIEWPORT["height"] / 2


def test_only_gate_verdicts_are_painted_as_failures(rendered):
    _, page = rendered
    assert page.fail_styled, "the report shows no failed gate (the fake and the e2e B fail one)"
    assert [text for text in page.fail_styled if not GATE_TEXT.match(text)] == []


def test_every_image_loaded(rendered):
    _, page = rendered
    assert page.images
    broken = [i["src"] for i in page.images if not (i["complete"] and i["width"] > 0)]
    assert not broken, broken


def test_every_internal_link_resolves(rendered):
    html, page = rendered
    assert page.links, "the report has no links"
    for link in page.links:
        if link.startswith("#"):
            assert link[1:] in page.ids, f"anchor {link} has no target"
        else:
            target = html.parent / unquote(link.split("#")[0])
            assert target.exists(), f"link {link} points nowhere"


def test_no_external_urls_and_no_console_errors(rendered):
    _, page = rendered
    assert page.external == []
    assert page.console_errors == []


def test_page_is_valid_html5(rendered):
    html5lib = pytest.importorskip("html5lib", reason="html5lib is in requirements-dev.txt")
    html, _ = rendered
    html5lib.HTMLParser(strict=True).parse(html.read_text())  # raises on any parse error


def test_screenshot_kept_with_every_section(rendered):
    html, page = rendered
    assert page.screenshot.is_file() and page.screenshot.stat().st_size > 10_000
    assert page.sections[0] == "Results beside the tutorials"
    assert page.sections[-2:] == ["Provenance", "Warnings"]
    version = html.parents[1]
    analyses = [p.name for p in version.iterdir() if p.is_dir() and p.name != "report"]
    assert len(page.sections) == len(analyses) + FIXED_SECTIONS
