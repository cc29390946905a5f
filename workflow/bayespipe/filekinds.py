"""What a result JSON file holds, by its name.

The report shows each kind its own way and ``bayespipe diff`` compares the numbers of the metrics,
diagnostics and data-card kinds.
"""

from __future__ import annotations

import re

JSON_KINDS = (
    ("data_card", re.compile(r"data_card", re.I)),
    ("diagnostics", re.compile(r"diagnostic|gates", re.I)),
    (
        "metrics",
        re.compile(r"metric|accuracy|summary|comparison|recovery|ood|evaluation|calibration", re.I),
    ),
)


def json_kind(name: str) -> str:
    """The first kind (``data_card``, ``diagnostics``, ``metrics``) matching, else ``other``."""
    for kind, pattern in JSON_KINDS:
        if pattern.search(name):
            return kind
    return "other"
