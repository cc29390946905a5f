"""How an analysis declares itself.

``ANALYSIS = Analysis(...)`` in its package's ``__init__.py``; ``bayespipe.catalog`` collects
the declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch


@dataclass(frozen=True)
class FileKind:
    """A kind of result file and the fields each run writes anew in it.

    Files match ``patterns`` (globs on the path inside the version folder); fields are dotted JSON
    keys (``*`` for any key or item) or CSV columns; ``per_run`` files are written per run as a
    whole (only their presence is compared).
    """

    name: str
    patterns: tuple[str, ...]
    fields: tuple[str, ...] = ()
    per_run: bool = False

    def matches(self, rel: str) -> bool:
        return any(fnmatch(rel, pattern) for pattern in self.patterns)


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    config_sections: tuple[str, ...]  # the config sections its rules read
    data_keys: tuple[str, ...] = field(default=())  # dotted config keys naming raw input files
    outputs: tuple[FileKind, ...] = field(default=())  # files with per-run fields
    report_order: int = 100  # sections of the report (and rule files included), smallest first
    rule_files: tuple[str, ...] = field(default=())  # in workflow/rules/; default: <name>.smk

    def rules(self) -> tuple[str, ...]:
        return self.rule_files or (f"{self.name}.smk",)
