"""Comparing values: what ``diff`` and ``reproduce`` share.

Comparing values: what ``diff`` (two versions' manifests and metrics) and ``reproduce`` (a version
against its re-run, file by file) share.

Maps compare key by key (``compare_maps`` over ``flatten``ed dicts); numbers compare as numbers
(NaN equals NaN) and the size of a difference is the largest absolute difference between
corresponding numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Change:
    key: str
    a: Any
    b: Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as {dotted.key: leaf}; lists stay whole (a list is one setting)."""
    if isinstance(value, dict) and value:
        out = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def compare_maps(a: dict, b: dict) -> list[Change]:
    return [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _lists_as_dicts(value: Any) -> Any:
    if isinstance(value, list):
        return {str(i): _lists_as_dicts(v) for i, v in enumerate(value)}
    if isinstance(value, dict):
        return {k: _lists_as_dicts(v) for k, v in value.items()}
    return value


def numeric_leaves(data: Any) -> dict[str, float]:
    """Every number (and boolean) of a JSON document by its dotted path (list items by index)."""
    return {
        key: value
        for key, value in flatten(_lists_as_dicts(data)).items()
        if isinstance(value, (bool, int, float))
    }


def changed_leaves(a: Any, b: Any) -> list[str]:
    """Dotted paths (list items by index) whose values differ or exist on one side only."""
    left, right = flatten(_lists_as_dicts(a)), flatten(_lists_as_dicts(b))
    return sorted(k for k in set(left) | set(right) if left.get(k, left) != right.get(k, right))


def same_number(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def numeric_changes(a: Any, b: Any, prefix: str = "") -> list[Change]:
    """The numbers that differ between two JSON documents (absent on one side counts)."""
    left, right = numeric_leaves(a), numeric_leaves(b)
    return [
        Change(f"{prefix}{k}", left.get(k), right.get(k))
        for k in sorted(set(left) | set(right))
        if not same_number(left.get(k), right.get(k))
    ]


def max_numeric_difference(a: Any, b: Any) -> float | None:
    """Largest absolute difference between corresponding numbers, or None if the shapes differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return None
        parts = [max_numeric_difference(a[k], b[k]) for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return None
        parts = [max_numeric_difference(x, y) for x, y in zip(a, b, strict=True)]
    elif _number(a) and _number(b):
        if math.isnan(a) and math.isnan(b):
            return 0.0
        return abs(float(a) - float(b))
    else:
        return 0.0 if a == b else None
    if any(p is None for p in parts):
        return None
    return max(parts, default=0.0)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def difference_text(a: Any, b: Any) -> str:
    delta = max_numeric_difference(a, b)
    return f"max |difference| {delta:.3g}" if delta is not None else "structure differs"
