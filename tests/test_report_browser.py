"""The HTML report in headless Chromium, as a reader sees it.

The first screen shows the results table with the tutorial column, only gate verdicts are painted as
failures, every image loads, internal links resolve, no console errors, and the page is valid HTML5.
With twenty models: blocks, the first screen shows the models table and no row of an analysis the
run did not ask for, and a block's name opens its folded section.

Runs on small hand-made version folders (fast) and, marked e2e, on the report of a real run of
config/test.yaml. Needs Debian's chromium (/usr/bin/chromium; CI installs it in .ci/run). The
screenshots are kept as test artifacts in test-artifacts/report*.png.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from bayespipe.report.html import write_report

sys.path.insert(0, str(Path(__file__).parent))
from browser import cdp  # noqa: E402
from fixtures.fake_version import add_model_blocks, make_version, run_info  # noqa: E402
from fixtures.versions import versions  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
GATE_TEXT = re.compile(r"^(FAIL|\d+ of \d+ failed)$")
FIXED_SECTIONS = 5  # results, run, what changed, provenance, warnings


# Clicks the models table's link to a block's folded section: is it then open, and in view?
OPEN_BLOCK = """
(async () => {
  document.querySelector('#models-table a[href="#model-m04"]').click();
  await new Promise(done => setTimeout(done, 200));
  const block = document.getElementById('model-m04');
  const top = block.getBoundingClientRect().top;
  return {open: block.open, top: top, height: window.innerHeight,
          others_open: document.querySelectorAll('details.block[open]').length};
})()
"""


def inspect(html: Path, name: str, probe: str | None = None) -> cdp.PageReport:
    if not cdp.available():
        pytest.skip(
            f"{cdp.CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium)"
        )
    return cdp.inspect_page(
        html, ARTIFACTS / f"{name}.png", ARTIFACTS / f"{name}-first-screen.png", probe=probe
    )


def finished(version: Path) -> None:
    for rel in ("manifest.json", "ro-crate-metadata.json", "report/code-snapshot/Snakefile"):
        (version / rel).parent.mkdir(parents=True, exist_ok=True)
        (version / rel).write_text("{}")


@pytest.fixture(scope="session")
def report_versions(test_run, tmp_path_factory):
    return versions(test_run, tmp_path_factory.mktemp("report-versions"))


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    version = make_version(tmp_path_factory.mktemp("browser") / "results")
    finished(version)
    html = write_report(version, version / "report" / "index.html", run_info()).path
    return html, inspect(html, "report-small")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Twenty models: blocks (two fail their gates) and a comparison; the run asked for models."""
    version = make_version(tmp_path_factory.mktemp("browser-models") / "results")
    config = add_model_blocks(version, 20, failed=(3, 7))
    finished(version)
    info = run_info(config={**config, "report": True}, analyses=config["analyses"])
    html = write_report(version, version / "report" / "index.html", info).path
    return html, inspect(html, "report-models", probe=OPEN_BLOCK)


@pytest.fixture(scope="module")
def e2e(report_versions):
    html = report_versions.b / "report" / "index.html"
    return html, inspect(html, "report")


@pytest.fixture(params=["fake", "models", pytest.param("e2e", marks=pytest.mark.e2e)])
def rendered(request):
    return request.getfixturevalue(request.param)


def test_first_screen_shows_the_results_table_with_the_tutorial_column(rendered):
    html, page = rendered
    assert page.first_screen_shot.is_file() and page.first_screen_shot.stat().st_size > 10_000
    tables = {t["id"]: t for t in page.first_screen}
    assert "results-table" in tables, f"first screen shows only {list(tables)}"
    headers = tables["results-table"]["headers"]
    assert "Tutorial reported" in headers and "This version" in headers and "Verdict" in headers
    assert tables["results-table"]["top"] < cdp.VIEWPORT["height"] / 2
    asked = set(
        json.loads((html.parents[1] / "manifest.json").read_text())
        .get("config", {})
        .get("analyses", [])
    )
    if asked:  # the e2e version: no row of an analysis its run did not ask for
        assert {row[0] for row in tables["results-table"]["rows"]} <= asked


def test_first_screen_of_twenty_model_blocks_shows_the_models_table(models):
    _, page = models
    tables = {t["id"]: t for t in page.first_screen}
    assert "models-table" in tables, f"first screen shows only {list(tables)}"
    rows = tables["models-table"]["rows"]
    assert [row[0] for row in rows] == [f"m{i:02d}" for i in range(1, 21)]
    assert [row[0] for row in rows if row[1] == "FAIL"] == ["m04", "m08"]
    assert rows[3][2] == "max_rhat, min_ess_bulk, min_ess_tail"
    # the headline rows are the models' own: none of an analysis the run did not ask for
    assert [row[0] for row in tables["results-table"]["rows"]] == ["models"]
    assert tables["models-table"]["top"] < cdp.VIEWPORT["height"] - 100


def test_a_block_name_opens_its_folded_section(models):
    _, page = models
    assert page.probe["others_open"] == 1 and page.probe["open"], page.probe
    assert 0 <= page.probe["top"] < page.probe["height"], page.probe  # scrolled into view


def test_only_gate_verdicts_are_painted_as_failures(rendered):
    _, page = rendered
    assert page.fail_styled, "the report shows no failed gate (the fake and the e2e B fail one)"
    assert [text for text in page.fail_styled if not GATE_TEXT.match(text)] == []


def test_every_image_loaded(rendered):
    _, page = rendered
    assert page.images
    broken = [i["src"] for i in page.images if not (i["complete"] and i["width"] > 0)]
    assert not broken, broken
    assert all(i["lazy"] for i in page.images)  # files of the version folder, loaded on demand
    assert not [i["src"] for i in page.images if i["src"].startswith("data:")]


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
    overview = [s for s in page.sections if s in ("Models", "Model comparisons")]
    assert len(page.sections) == len(analyses) + FIXED_SECTIONS + len(overview)
