"""Every figure marked report(...) in a rule file has its caption.

Every figure marked report(...) in a rule file has its caption in workflow/report/, grouped by
analysis.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bayespipe.catalog import ANALYSES

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "workflow" / "rules"
LITERAL_CAPTION = re.compile(r"""caption\s*=\s*(f?)["']([^"']+)["']""")
CATEGORIES = {a.title for a in ANALYSES.values()} | {"Version report"}

# Parses the workflow with every analysis enabled and prints each report() output's caption and
# category: captions built in helper functions (f-strings, variables) are resolved by Snakemake.
LIST_MARKED = r"""
import sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings
names = sys.argv[1].split(",")
with SnakemakeApi(OutputSettings(verbose=False)) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path("Snakefile"),
                      workdir=Path("."), config_settings=ConfigSettings(config={"analyses": names}))
    wf.dag(DAGSettings())
    for rule in wf._workflow.rules:
        for item in rule.output:
            flag = item.flags.get("report")
            if flag:
                print("MARKED", rule.name, flag.caption, flag.category, sep="\t")
"""


def report_calls(text: str) -> list[str]:
    """The argument text of every report( call (balanced parentheses)."""
    calls = []
    for match in re.finditer(r"\breport\(", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                calls.append(text[start:i])
                break
    return calls


def test_every_literal_caption_exists():
    checked = 0
    for rule_file in sorted(RULES.glob("*.smk")):
        for call in report_calls(rule_file.read_text()):
            assert "caption" in call, (
                f"{rule_file.name}: report({call.strip()[:60]}...) has no caption"
            )
            for is_f, caption in LITERAL_CAPTION.findall(call):
                if is_f:
                    continue
                assert (RULES / caption).resolve().is_file(), (
                    f"{rule_file.name}: caption {caption} is missing"
                )
                checked += 1
    assert checked >= 1  # at least the report rule's own caption


def test_every_marked_output_has_a_caption_and_an_analysis_category(repo_copy):
    result = subprocess.run(
        [sys.executable, "-c", LIST_MARKED, ",".join(ANALYSES)],
        cwd=repo_copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    marked = [
        line.split("\t")[1:] for line in result.stdout.splitlines() if line.startswith("MARKED\t")
    ]
    assert any(rule == "report_html" for rule, *_ in marked)
    for rule, caption, category in marked:
        relative = Path(caption).resolve().relative_to(repo_copy.resolve())
        assert (REPO / relative).is_file(), f"rule {rule}: caption {relative} is missing"
        assert relative.parts[:2] == ("workflow", "report"), (
            f"rule {rule}: caption outside workflow/report/"
        )
        assert category in CATEGORIES, (
            f"rule {rule}: category {category!r} is not an analysis title"
        )
