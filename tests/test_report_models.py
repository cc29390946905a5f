"""The report of a run with many ``models:`` blocks.

Its first screen counts only the analyses the run asked for, a table gives one row per block (gates
and the checks that failed, worst R-hat, smallest bulk ESS, elpd_loo, sampling time) linking to
the block's folded section, comparisons follow, and figures are the version folder's files (lazy),
not copies inside the page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bayespipe.report import blocks, headline, sections
from bayespipe.report.html import render, write_report

sys.path.insert(0, str(Path(__file__).parent))
from fixtures.fake_version import (  # noqa: E402
    add_model_blocks,
    complete,
    make_version,
    run_info,
    write_json,
)

IMG = re.compile(r"<img [^>]*>")


def section(html: str, ident: str) -> str:
    return html.split(f'<section id="{ident}">')[1].split("</section>")[0]


def rows_of(table: str) -> list[str]:
    return table.split("<tr>")[2:]  # after the header row


def cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


@pytest.fixture
def models_version(tmp_path) -> tuple[Path, dict]:
    version = make_version(tmp_path / "results")  # tadpoles and zillow outputs too
    config = add_model_blocks(version, 20, failed=(3, 7), unfitted=(19,))
    return version, config


def models_page(version: Path, config: dict, **kwargs) -> str:
    info = run_info(config={**config, "report": True}, analyses=config["analyses"])
    return render(version, version / "report" / "index.html", info, **kwargs)


def test_models_table_has_a_row_per_block_with_its_failed_checks(models_version):
    version, config = models_version
    html = models_page(version, config)
    models = section(html, "models")
    rows = rows_of(models.split('<table id="models-table">')[1].split("</table>")[0])
    assert [cells(r)[0] for r in rows] == list(config["models"])  # config order, all 20
    failed = cells(next(r for r in rows if ">m04<" in r))
    assert failed[1] == "FAIL" and failed[2] == "max_rhat, min_ess_bulk, min_ess_tail"
    assert failed[3] == "1.080 tau" and failed[4] == "85 theta[3]"
    assert failed[5] == "-30.8 (1.1)" and failed[6] == "1.8"
    assert cells(rows[0])[1:3] == ["pass", ""]
    assert cells(rows[19])[1] == "no fit"
    assert '<span class="badge gate-fail">2 of 20 failed</span> (m04, m08)' in models
    assert "model block m20 has no fit in this run" in section(html, "warnings")
    # each name links to the block's section, folded until opened
    assert '<a href="#model-m04">m04</a>' in rows[3]
    assert '<details id="model-m04" class="block">' in section(html, "analysis-models")
    assert (
        html.count('class="block"') == 20
        and '<details id="model-m04" class="block" open' not in html
    )
    # the table comes before the comparisons and the per-block sections
    ids = re.findall(r'<section id="([^"]+)">', html)
    assert ids.index("results") < ids.index("models") < ids.index("comparisons") < ids.index("run")
    assert html.index('id="models-table"') < html.index('id="model-m01"')


def test_block_sections_hold_their_own_files_and_headline_rows(models_version):
    version, config = models_version
    html = models_page(version, config)
    block = html.split('<details id="model-m02" class="block">')[1].split(
        '<details id="model-m03"'
    )[0]
    assert "models/m02/diagnostics.json" in block and "models/m01/" not in block
    assert 'src="../models/m02/posterior_predictive.png"' in block  # key figures (layout.yaml)
    assert "m01: posterior mean of mu" not in block
    first = html.split('<details id="model-m01" class="block">')[1]
    assert "m01: posterior mean of mu" in first.split('<details id="model-m02"')[0]
    results = section(html, "results")
    assert '<a href="#model-m01">models</a>' in results  # a block's headline row links to it


def test_model_row_reads_diagnostics_loo_and_metrics(tmp_path):
    folder = tmp_path / "models" / "a"
    write_json(
        folder / "diagnostics.json",
        {"method": "pathfinder", "approximate": True, "passed": False, "failed": ["max_pareto_k"]},
    )
    write_json(folder / "metrics.json", {"max_rhat": None, "sampling_seconds": 0.25})
    write_json(
        folder / "loo.json",
        {"elpd_loo": -12.5, "se": 2.0, "pareto_k": {"max": 0.9}, "passed": False},
    )
    row = blocks.model_row(tmp_path, "a", lambda rel: True)
    assert (row.fitted, row.passed, row.failed_checks, row.method) == (
        True,
        False,
        ["max_pareto_k"],
        "pathfinder",
    )
    assert (row.max_rhat, row.sampling_seconds, row.elpd_loo, row.loo_reliable) == (
        None,
        0.25,
        -12.5,
        False,
    )
    # a file of another run (not in the run's files) is not read
    assert not blocks.model_row(tmp_path, "a", lambda rel: "loo" in rel).fitted


def test_first_screen_counts_only_the_analyses_the_run_asked_for(tmp_path):
    version = make_version(tmp_path / "results")
    info = run_info(analyses=["tadpoles"], config={"analyses": ["tadpoles"], "report": True})
    html = render(version, version / "report" / "index.html", info)
    results = section(html, "results")
    analyses = {cells(r)[0] for r in rows_of(results.split("</table>")[0])}
    assert analyses == {"tadpoles"}
    declared = headline.load_references()["references"]
    asked = sum(e["analysis"] == "tadpoles" for e in declared)
    assert 0 < asked < len(declared)
    header = html.split("<header>")[1].split("</header>")[0]
    assert re.search(
        rf"\d+ of {asked} headline results reproduced, \d+ differ, \d+ not run", header
    )
    text = re.sub(r"\s+", " ", results)
    assert "Left out: the headline results of 4 other analyses, which this run did not" in text
    assert not re.search(r"\b(mnist|moons|sinusoid|zillow)\b", text)  # none named either
    # a run that asked for every analysis still shows every row
    every = sorted({e["analysis"] for e in declared})
    info = run_info(analyses=every, config={"analyses": every, "report": True})
    html = render(version, version / "report" / "index.html", info)
    assert f"of {len(declared)} headline results" in html
    assert "Left out" not in html


def test_a_run_without_headline_results_says_so_and_the_models_table_leads(models_version):
    version, config = models_version
    for block in config["models"].values():
        block.pop("references", None)
    html = models_page(version, config)
    assert 'id="results-table"' not in html
    assert "No headline results" in section(html, "results")
    assert "no headline results for the analyses this run asked for" in html


def test_models_table_only_when_the_run_asked_for_models(models_version):
    version, config = models_version
    html = models_page(version, {**config, "analyses": ["tadpoles"]})
    assert 'id="models-table"' not in html and 'id="comparisons"' not in html
    assert 'class="block"' not in html


def test_comparison_leads_with_its_table_then_headline_unreliable_blocks_and_figure(
    models_version,
):
    version, config = models_version
    html = models_page(version, config)
    compared = section(html, "comparisons")
    table = compared.split('<table class="comparison">')[1].split("</table>")[0]
    header = re.findall(r"<th>([^<]*)</th>", table)
    assert header[:8] == ["block", "rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight"]
    rows = [cells(r) for r in rows_of(table)]
    assert [(r[0], r[7]) for r in rows] == [("m01", "0.8"), ("m02", "0.2")]  # stacking weights
    order = [
        compared.index('<table class="comparison">'),
        compared.index("m01 is ahead of m02 by 0.1 elpd"),
        compared.index("Unreliable: PSIS-LOO of m02"),
        compared.index('<img src="../models/comparisons/pair/compare.png"'),
    ]
    assert order == sorted(order)
    # its files are shown there, not again in the models analysis
    assert "compare.png" not in "".join(IMG.findall(section(html, "analysis-models")))


def test_comparison_from_its_json_alone_and_one_not_run(models_version):
    version, config = models_version
    (version / "models" / "comparisons" / "pair" / "compare.csv").unlink()
    config = {**config, "comparisons": {**config["comparisons"], "later": ["m03", "m04"]}}
    html = models_page(version, config)
    compared = section(html, "comparisons")
    pair = compared.split('id="comparison-pair"')[1].split('id="comparison-later"')[0]
    assert re.search(r'<a href="#model-m01">m01</a></td><td class="num">0.8</td>', pair)
    later = compared.split('id="comparison-later"')[1]
    assert "Not run" in later and "models/comparisons/later/compare.json" in later
    assert "<img" not in later and 'href="../' not in later  # no link to a missing file


def test_figures_are_the_folders_files_loaded_lazily(models_version):
    version, config = models_version
    target = version / "report" / "index.html"
    write_report(version, target, run_info(config={**config, "report": True}, analyses=["models"]))
    html = target.read_text()
    assert "data:" not in html and "base64" not in html
    images = IMG.findall(html)
    assert len(images) == 19 * 3 + 1 + 2  # each fitted block's three, the comparison's, tadpoles'
    for image in images:
        src = re.search(r'src="([^"]+)"', image).group(1)
        assert 'loading="lazy"' in image and (target.parent / src).is_file(), image
        assert re.search(r'width="\d+" height="\d+"', image)
    assert sections.image_size(version / "models" / "m01" / "trace.png") == (200, 200)
    assert sections.image_size(version / "models" / "m01" / "summary.csv") == (None, None)


def test_only_this_runs_files_are_shown(models_version):
    version, config = models_version
    files = {
        str(p.relative_to(version))
        for p in version.rglob("*")
        if p.is_file() and p.name != "trace.png" and "m05" not in p.parts
    }
    html = models_page(version, config, files=files)
    assert "trace.png" not in html  # another run's figure: never shown, never linked
    row = next(r for r in rows_of(section(html, "models")) if ">m05<" in r)
    assert cells(row)[1] == "no fit"


def test_what_changed_names_the_default_run_label(tmp_path):
    results = tmp_path / "results"
    version = make_version(results, "v1")
    html = render(version, version / "report" / "index.html", run_info(), results_dir=results)
    changes = section(html, "changes")
    assert "this run's label (default)" in changes and 'label ""' not in changes
    older = make_version(results, "v0")
    complete(older, {"run_label": ""})
    html = render(version, version / "report" / "index.html", run_info(), results_dir=results)
    assert "the same run label (default;" in section(html, "changes")
