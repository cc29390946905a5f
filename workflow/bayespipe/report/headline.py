"""The headline results of a version beside what the tutorials reported.

The reference values, where this version's value is found and when it counts as reproduced are
declared in ``references.yaml`` (next to this module); this module only reads and judges them.
A result whose file is absent (analysis not run) is listed as "not run", never as differing.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bayespipe.errors import InputError
from bayespipe.io import read_json
from bayespipe.report.present import fixed

REFERENCES = Path(__file__).with_name("references.yaml")
AGREE_KINDS = ("inside", "rel", "abs", "between", "order", "above")
REPRODUCED, DIFFERS, NOT_RUN = "reproduced", "differs", "not run"


@dataclass
class Headline:
    """One row of the results table."""

    id: str
    analysis: str
    result: str
    tutorial: Any  # the reported value: a number, or text where the tutorial gave a range
    source: str
    file: str | None  # where this version's value came from (version-relative)
    value: float | None = None
    low: float | None = None  # posterior interval, where the value has one
    high: float | None = None
    text: str = ""  # this version's result where it is not one number (an ordering)
    verdict: str = NOT_RUN
    notes: list[str] = field(default_factory=list)
    decimals: int | None = None  # the tutorial value's precision; None: no number to follow


@lru_cache(maxsize=4)
def load_references(path: str | Path = REFERENCES) -> dict:
    """The declared references, checked for the keys the judging needs."""
    data = yaml.safe_load(Path(path).read_text())
    entries, notes = data.get("references") or [], data.get("notes") or {}
    ids = {e.get("id") for e in entries}
    for index, entry in enumerate(entries):
        where = f"references[{index}] ({entry.get('id')})"
        missing = {"id", "analysis", "result", "tutorial", "source", "agree"} - set(entry)
        if missing:
            raise InputError(path, f"{where} lacks keys {sorted(missing)}")
        kinds = set(entry["agree"]) & set(AGREE_KINDS)
        if len(kinds) != 1:
            raise InputError(path, f"{where}: agree needs exactly one of {AGREE_KINDS}")
        if "order" not in kinds and "ours" not in entry:
            raise InputError(path, f"{where} lacks 'ours' (where this version's value is)")
        decimals = entry.get("decimals")
        if decimals is not None and (not isinstance(decimals, int) or decimals < 0):
            raise InputError(path, f"{where}: decimals must be a whole number >= 0")
        unknown = set(entry.get("notes", [])) - set(notes)
        unknown |= set(entry["agree"].get("order", [])) - ids
        if unknown:
            raise InputError(path, f"{where} names unknown ids {sorted(unknown)}")
    return {"references": entries, "notes": notes}


LEADING_NUMBER = re.compile(r"^\s*\d[\d,]*(?:\.(\d+))?")


def tutorial_decimals(entry: dict) -> int | None:
    """Decimal places of the tutorial's value.

    ``decimals`` where declared (YAML drops a trailing zero: 0.0130), else those of the number it is
    or starts with; None for text without one.
    """
    if "decimals" in entry:
        return entry["decimals"]
    tutorial = entry["tutorial"]
    if isinstance(tutorial, bool):
        return None
    match = LEADING_NUMBER.match(str(tutorial))
    if not match:
        return None
    return len(match.group(1) or "")


def _dotted(data: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _csv_rows(path: Path) -> list[dict]:
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _column_mean(path: Path, column: str) -> float | None:
    import pandas as pd

    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if column not in frame:
        raise InputError(path, f"no column '{column}' to average", column=column)
    return _number(frame[column].mean())


def read_value(version_dir: Path, ours: dict) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of a declared location; None where the file or entry is absent."""
    path = version_dir / ours["file"]
    if not path.is_file():
        return None, None, None
    if "stat" in ours:
        return _column_mean(path, ours["column"]), None, None
    if path.suffix == ".json":
        data = read_json(path)
        return tuple(
            _number(_dotted(data, ours[k])) if k in ours else None for k in ("key", "low", "high")
        )
    match = [
        r
        for r in _csv_rows(path)
        if all(r.get(c) == str(v) for c, v in ours.get("where", {}).items())
    ]
    if not match:
        return None, None, None
    row = match[0]
    return tuple(
        _number(row.get(ours[k])) if k in ours else None for k in ("column", "low", "high")
    )


def _agrees(entry: dict, row: Headline, values: dict[str, float | None]) -> bool | None:
    """True or False, or None where it cannot be judged (a value is missing)."""
    agree, tutorial = entry["agree"], _number(entry["tutorial"])
    if "order" in agree:
        ordered = [values.get(i) for i in agree["order"]]
        if any(v is None for v in ordered):
            return None
        return all(a < b for a, b in itertools.pairwise(ordered))
    if row.value is None:
        return None
    if "inside" in agree:
        if row.low is None or row.high is None:
            return math.isclose(row.value, tutorial, rel_tol=0.05)
        return row.low <= tutorial <= row.high
    if "rel" in agree:
        return abs(row.value - tutorial) <= agree["rel"] * abs(tutorial)
    if "abs" in agree:
        return abs(row.value - tutorial) <= agree["abs"]
    if "between" in agree:
        low, high = agree["between"]
        return low <= row.value <= high
    return row.value > agree["above"]


def note_applies(note: dict, version_dir: Path, config: dict) -> bool:
    when = note.get("when")
    if not when:
        return True
    if "config" in when:
        return _dotted(config, when["config"]) == when["equals"]
    path = version_dir / when["file"]
    return path.is_file() and _dotted(read_json(path), when["key"]) == when["equals"]


def headlines(
    version_dir: str | Path, config: dict, path: str | Path = REFERENCES
) -> list[Headline]:
    """Every declared headline result judged against ``version_dir``, in declaration order."""
    version_dir = Path(version_dir)
    refs = load_references(str(path))
    rows, values = [], {}
    for entry in refs["references"]:
        ours = entry.get("ours")
        row = Headline(
            entry["id"],
            entry["analysis"],
            entry["result"],
            entry["tutorial"],
            entry["source"],
            ours["file"] if ours else None,
            decimals=tutorial_decimals(entry),
        )
        if ours:
            row.value, row.low, row.high = read_value(version_dir, ours)
        values[row.id] = row.value
        rows.append(row)
    for entry, row in zip(refs["references"], rows, strict=True):
        if "order" in entry["agree"]:
            row.text = order_text(entry["agree"]["order"], rows)
            row.file = entry.get("link")
        agrees = _agrees(entry, row, values)
        row.verdict = NOT_RUN if agrees is None else REPRODUCED if agrees else DIFFERS
        row.notes = [
            refs["notes"][n]["text"]
            for n in entry.get("notes", [])
            if note_applies(refs["notes"][n], version_dir, config)
        ]
    return rows + model_headlines(version_dir, config)


def model_references(config: dict) -> list[dict]:
    """Build reference entries from the ``references:`` of each enabled model block.

    The published value counts as reproduced when it lies in this version's 94% HDI.
    """
    if "models" not in (config.get("analyses") or []):
        return []
    entries = []
    for name, block in sorted((config.get("models") or {}).items()):
        source = block.get("reference_source") or f"config: models.{name}.references"
        for variable, value in (block.get("references") or {}).items():
            entries.append(
                {
                    "id": f"models_{name}_{variable}",
                    "analysis": "models",
                    "result": f"{name}: posterior mean of {variable}",
                    "tutorial": value,
                    "source": source,
                    "ours": {
                        "file": f"models/{name}/summary.csv",
                        "where": {"variable": variable},
                        "column": "mean",
                        "low": "hdi_3%",
                        "high": "hdi_97%",
                    },
                    "agree": {"inside": True},
                }
            )
    return entries


def model_headlines(version_dir: Path, config: dict) -> list[Headline]:
    """The headline rows of the model blocks' references, judged like the declared ones."""
    rows = []
    for entry in model_references(config):
        ours = entry["ours"]
        row = Headline(
            entry["id"], "models", entry["result"], entry["tutorial"], entry["source"], ours["file"]
        )
        row.value, row.low, row.high = read_value(version_dir, ours)
        agrees = _agrees(entry, row, {})
        row.verdict = NOT_RUN if agrees is None else REPRODUCED if agrees else DIFFERS
        rows.append(row)
    return rows


def order_text(entry_ids: list[str], rows: list[Headline]) -> str:
    """This version's values of an ordering, as 'a < b < c' with the actual relation."""
    by_id = {r.id: r for r in rows}
    values = [by_id[i].value for i in entry_ids]
    if any(v is None for v in values):
        return ""
    shown = [fixed(value, by_id[i].decimals) for i, value in zip(entry_ids, values, strict=True)]
    parts = [shown[0]]
    for (a, b), text in zip(itertools.pairwise(values), shown[1:], strict=True):
        parts.append(f"{'<' if a < b else '>' if a > b else '='} {text}")
    return " ".join(parts)
