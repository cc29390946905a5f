"""Render config/README.md from the schema, so the reference never drifts from what is validated.

python -m bayespipe.config_docs > config/README.md
"""

from __future__ import annotations

import json

from bayespipe.config import load_schema

HEADER = """# Configuration reference

`config/config.yaml` is the default run; `config/test.yaml` is the small run the tests use and is
merged over it. Pass another file with `snakemake --configfile my.yaml` (merged over the default)
or single keys with `--config key=value`. Every key below has a default; an unknown key or a wrong
type stops Snakemake before any job runs, with the dotted key named.

This page is generated from the JSON schema in `workflow/schemas/` by
`python -m bayespipe.config_docs > config/README.md`; `tests/test_config.py` checks it is current.

| key | type | default | description |
| --- | --- | --- | --- |
"""


def _type(schema: dict) -> str:
    kind = schema.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        kind += ": " + " / ".join(map(str, schema["enum"]))
    if schema.get("type") == "array" and "enum" in schema.get("items", {}):
        kind += " of " + " / ".join(schema["items"]["enum"])
    return kind


def _default(schema: dict) -> str:
    if "default" not in schema:
        return ""
    if schema.get("type") == "object" and schema.get("properties"):
        return "(see below)"
    return "`" + json.dumps(schema["default"]) + "`"


def rows(schema: dict, path: str = "") -> list[str]:
    lines = []
    for key, sub in schema.get("properties", {}).items():
        dotted = f"{path}.{key}" if path else key
        description = " ".join(str(sub.get("description", "")).split()).replace("|", "\\|")
        lines.append(
            f"| `{dotted}` | {_type(sub).replace('|', '/')} | {_default(sub)} | {description} |"
        )
        lines += rows(sub, dotted)
    entry = schema.get("additionalProperties")
    if isinstance(entry, dict) and entry.get("properties"):  # a block per name (models.<name>)
        lines += rows(entry, f"{path}.<name>")
    return lines


def render() -> str:
    return HEADER + "\n".join(rows(load_schema())) + "\n"


if __name__ == "__main__":
    print(render(), end="")
