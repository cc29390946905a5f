"""How values look in the report.

Numbers, yes/no, quantiles in numeric order, long vectors as a summary with a small histogram. Pure
functions, registered as Jinja filters and tests; no HTML.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bayespipe.report.collect import PASS_KEYS

MAX_INLINE_VECTOR = 12  # longer numeric lists (per-zip effects, per-chain counts) are summarised
HISTOGRAM_BINS = 16
GATE_KEYS = frozenset(PASS_KEYS) | {"gates_passed"}
QUANTILE_KEY = re.compile(r"^(q|p|quantile_?)(\d{1,4})$", re.I)


def number(value: Any) -> str:
    """Four significant digits in the usual range, scientific notation outside it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def fixed(value: Any, decimals: int | None) -> str:
    """``value`` with ``decimals`` places and thousands separators (a count: ``43,700``).

    ``number`` where ``decimals`` is None or the value is not a finite number.
    """
    if decimals is None or not is_number(value) or not math.isfinite(value):
        return number(value)
    if decimals == 0:
        return f"{round(value):,}"
    return f"{value:,.{decimals}f}"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def quantile_level(key: Any) -> float | None:
    """The percent a quantile-like key stands for: q05 -> 5, q100 -> 100, q975 -> 97.5."""
    match = QUANTILE_KEY.match(str(key))
    if not match:
        return None
    digits = match.group(2)
    if len(digits) <= 2 or digits == "100":
        return float(int(digits))
    return int(digits) / 10 ** (len(digits) - 2)


def ordered_keys(keys: list) -> list:
    """Keys in their own order, except that quantile-like keys are sorted by level, in place."""
    levels = [quantile_level(k) for k in keys]
    pairs = list(zip(keys, levels, strict=True))
    quantiles = iter(sorted((k for k, q in pairs if q is not None), key=quantile_level))
    return [next(quantiles) if q is not None else k for k, q in pairs]


def ordered_items(mapping: dict) -> list[tuple]:
    return [(k, mapping[k]) for k in ordered_keys(list(mapping))]


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def is_vector(value: Any) -> bool:
    """A list, or a mapping of many keys, whose values are all numbers: shown as a summary."""
    if isinstance(value, dict):
        value = list(value.values())
    values = value if isinstance(value, list) else None
    if values is None or len(values) <= MAX_INLINE_VECTOR:
        return False
    return all(is_number(v) or v is None for v in values)


def is_records(value: Any) -> bool:
    """A list of flat dicts, or a dict of flat dicts: one table, a row per entry."""
    if isinstance(value, list):
        rows = value
    elif isinstance(value, dict):
        rows = list(value.values())
    else:
        return False
    return bool(rows) and all(
        isinstance(r, dict) and r and all(is_scalar(v) or _short_list(v) for v in r.values())
        for r in rows
    )


def _short_list(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) <= MAX_INLINE_VECTOR and all(map(is_scalar, value))
    )


def records(value: list | dict) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a records value; a dict's keys become a first 'name' column."""
    rows = [{"name": k, **v} for k, v in value.items()] if isinstance(value, dict) else value
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return ordered_keys(columns), rows


def partition(mapping: dict) -> tuple[list[tuple], list[tuple]]:
    """(rows shown as key/value, entries shown as nested blocks) of a mapping, in key order."""
    flat, nested = [], []
    for key, value in ordered_items(mapping):
        plain = (
            is_scalar(value)
            or is_vector(value)
            or (isinstance(value, list) and all(map(is_scalar, value)))
        )
        (flat if plain else nested).append((key, value))
    return flat, nested


def _plain(value: Any) -> bool:
    return is_scalar(value) or _short_list(value)


def is_entries(value: Any) -> bool:
    """A mapping (or list) of dicts that also hold nested parts.

    For example calibration.json, a verdict per program with its evidence: one table of their plain
    fields, the rest folded per entry.
    """
    rows = list(value.values()) if isinstance(value, dict) else value
    return (
        isinstance(rows, list)
        and bool(rows)
        and all(isinstance(r, dict) and any(_plain(v) for v in r.values()) for r in rows)
    )


def entries(value: dict | list) -> tuple[list[str], list[dict], list[tuple[str, dict]]]:
    """(columns, rows of plain fields, (entry label, nested fields) per entry that has any)."""
    items = (
        list(value.items())
        if isinstance(value, dict)
        else [(str(r.get("name") or r.get("model") or i), r) for i, r in enumerate(value)]
    )
    columns: list[str] = ["name"] if isinstance(value, dict) else []
    rows, nested = [], []
    for label, entry in items:
        plain = {k: v for k, v in entry.items() if _plain(v)}
        rows.append({"name": label, **plain} if isinstance(value, dict) else plain)
        columns += [k for k in plain if k not in columns]
        rest = {k: v for k, v in entry.items() if not _plain(v)}
        if rest:
            nested.append((label, rest))
    return ordered_keys(columns), rows, nested


@dataclass
class VectorSummary:
    n: int
    missing: int
    low: float | None
    high: float | None
    mean: float | None
    bars: list[tuple[float, float]]  # (x, height) in SVG units (width 4 each, height 0..24)


def summarise(value: list | dict, bins: int = HISTOGRAM_BINS) -> VectorSummary:
    values = list(value.values()) if isinstance(value, dict) else list(value)
    finite = [float(v) for v in values if is_number(v) and math.isfinite(v)]
    if not finite:
        return VectorSummary(len(values), len(values), None, None, None, [])
    low, high = min(finite), max(finite)
    counts = [0] * bins
    for v in finite:
        index = 0 if high == low else min(int((v - low) / (high - low) * bins), bins - 1)
        counts[index] += 1
    top = max(counts)
    bars = [(i * 4.0, round(24.0 * c / top, 2)) for i, c in enumerate(counts)]
    return VectorSummary(
        len(values), len(values) - len(finite), low, high, sum(finite) / len(finite), bars
    )


def is_gate(key: Any, value: Any, kind: str) -> bool:
    """Only a convergence verdict (a pass flag of a diagnostics file, or gates_passed) is a gate."""
    if not isinstance(value, bool):
        return False
    return str(key) == "gates_passed" or (kind == "diagnostics" and str(key) in GATE_KEYS)


def parse_cell(text: str) -> Any:
    """A CSV cell as the value it stands for: int, float, bool or text."""
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    for kind in (int, float):
        try:
            return kind(stripped)
        except ValueError:
            pass
    return text


def filters() -> dict:
    return {
        "number": number,
        "fixed": fixed,
        "yes_no": yes_no,
        "ordered_items": ordered_items,
        "ordered_keys": ordered_keys,
        "records": records,
        "summarise": summarise,
        "parse_cell": parse_cell,
        "partition": partition,
        "entries": entries,
    }


def tests() -> dict:
    return {
        "number": is_number,
        "scalar": is_scalar,
        "vector": is_vector,
        "records": is_records,
        "entries": is_entries,
    }
