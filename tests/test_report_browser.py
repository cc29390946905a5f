"""The HTML report in headless Chromium: images load, internal links resolve, no console errors.

Needs Debian's chromium (/usr/bin/chromium; CI installs it in .ci/run). The screenshot is kept
as a test artifact in test-artifacts/report.png.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import cdp  # noqa: E402
from browser.versions import versions  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.fixture(scope="module")
def rendered(report_versions):
    if not cdp.available():
        pytest.skip(f"{cdp.CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)")
    html = report_versions.b / "report" / "index.html"
    return html, cdp.inspect_page(html, ARTIFACTS / "report.png")


def test_every_image_loaded(rendered):
    _, page = rendered
    broken = [i["src"] for i in page.images if not (i["complete"] and i["width"] > 0)]
    assert not broken, broken


def test_every_internal_link_resolves(rendered):
    html, page = rendered
    assert page.links, "the report has no links"
    for link in page.links:
        if link.startswith("#"):
            assert link[1:] in page.ids, f"anchor {link} has no target"
        else:
            assert (html.parent / unquote(link.split("#")[0])).exists(), f"link {link} points nowhere"


def test_no_external_urls_and_no_console_errors(rendered):
    _, page = rendered
    assert page.external == []
    assert page.console_errors == []


def test_screenshot_kept_with_every_section(rendered, report_versions):
    _, page = rendered
    assert page.screenshot.is_file() and page.screenshot.stat().st_size > 10_000
    assert page.sections[0] == "Summary" and page.sections[-2:] == ["Provenance", "Warnings"]
    analyses = [p.name for p in report_versions.b.iterdir() if p.is_dir() and p.name != "report"]
    assert len(page.sections) == len(analyses) + 3
