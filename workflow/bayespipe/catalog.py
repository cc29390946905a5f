"""The analyses of the workflow, collected from their own declarations.

Each analysis package ``bayespipe.analyses.<name>`` declares itself in its ``__init__.py`` as
``ANALYSIS = Analysis(...)``: its title, the config sections its rules read, the config keys
naming its raw inputs, the files it writes with their per-run fields, and its place in the
report. Its rules live in ``workflow/rules/<name>.smk`` and its results in
``results/<version>/<name>/``. What a job depends on is derived from its rule, script and
imports (``bayespipe.codedeps``), not declared here.
"""

from __future__ import annotations

import importlib
import pkgutil

from bayespipe.declaration import Analysis, FileKind

# Results of the whole version (report, code snapshot) live here.
REPORT_DIR = "report"


def _package_names() -> list[str]:
    from bayespipe import analyses

    return [
        f"{analyses.__name__}.{module.name}"
        for module in pkgutil.iter_modules(analyses.__path__)
        if module.ispkg
    ]


# The analysis packages this module imports by name (``bayespipe.codedeps`` cannot see them in an
# import statement): a job that reads the catalog depends on every declaration.
LOADED_PACKAGES: tuple[str, ...] = tuple(_package_names())


def _declared() -> dict[str, Analysis]:
    found = []
    for name in LOADED_PACKAGES:
        declared = getattr(importlib.import_module(name), "ANALYSIS", None)
        if isinstance(declared, Analysis):
            found.append(declared)
    return {a.name: a for a in sorted(found, key=lambda a: (a.report_order, a.name))}


ANALYSES: dict[str, Analysis] = _declared()


def title(name: str) -> str:
    """The display title of an analysis (its name when it is not a registered analysis)."""
    return ANALYSES[name].title if name in ANALYSES else name


def report_order() -> tuple[str, ...]:
    """Analysis names in the order of the report's sections."""
    return tuple(ANALYSES)


def rule_files() -> list[str]:
    """List the rule files of every analysis, relative to the repository root.

    In report order: an analysis whose rules use another's outputs comes after it.
    """
    return [f"workflow/rules/{f}" for analysis in ANALYSES.values() for f in analysis.rules()]


def output_kinds() -> tuple[FileKind, ...]:
    """Every file kind the analyses declare."""
    return tuple(kind for analysis in ANALYSES.values() for kind in analysis.outputs)


__all__ = [
    "ANALYSES",
    "LOADED_PACKAGES",
    "REPORT_DIR",
    "Analysis",
    "FileKind",
    "output_kinds",
    "report_order",
    "rule_files",
    "title",
]
