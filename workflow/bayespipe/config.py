"""Config validation: every error names its dotted key before Snakemake builds any job."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from bayespipe.errors import ConfigError

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def load_schema(schema_path: Path = SCHEMA) -> dict:
    """Load the schema with every file ``$ref`` inlined and the declared analyses added.

    The sections live in their own files; for the declared analyses, each one's name to ``analyses``
    and its section ``sections/<name>.schema.yaml`` (and that of every other section it declares in
    ``config_sections`` that has a file there, e.g. the models' ``comparisons``), so a new analysis
    needs no edit of the top-level schema.
    """

    def inline(node, base: Path):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#"):
                target = (base / node["$ref"]).resolve()
                loaded = inline(yaml.safe_load(target.read_text()), target.parent)
                loaded.pop("$schema", None)
                rest = {k: inline(v, base) for k, v in node.items() if k != "$ref"}
                return {**loaded, **rest}
            return {k: inline(v, base) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v, base) for v in node]
        return node

    schema = inline(yaml.safe_load(schema_path.read_text()), schema_path.parent)
    return _with_analyses(schema, schema_path.parent, inline)


def _with_analyses(schema: dict, base: Path, inline) -> dict:
    from bayespipe.catalog import ANALYSES

    properties = schema.get("properties", {})
    if "analyses" not in properties:
        return schema
    properties["analyses"]["items"]["enum"] = list(ANALYSES)
    for analysis in ANALYSES.values():
        for name in (analysis.name, *analysis.config_sections):
            section = base / "sections" / f"{name}.schema.yaml"
            if name not in properties and section.is_file():
                properties[name] = inline(
                    {"$ref": f"sections/{name}.schema.yaml", "default": {}}, base
                )
    return schema


def fill_defaults(config: dict, schema: dict) -> dict:
    """Set every missing key to its schema default, recursing into objects."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            fill_defaults(config[key], sub)
    return config


def section_defaults(*keys: str, schema_path: Path = SCHEMA) -> dict:
    """The defaults of the config object at ``keys`` (e.g. ``"tadpoles", "tfp_hmc"``)."""
    node = load_schema(schema_path)
    for key in keys:
        node = node["properties"][key]
    return fill_defaults({}, node)


def config_errors(config: dict, schema_path: Path = SCHEMA) -> list[str]:
    """One message per problem, each naming the dotted key, e.g.

    ``zillow.seed: 'x' is not of type 'integer'``.
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema(schema_path))
    messages = []
    for error in sorted(
        validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))
    ):
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            for name in unknown:
                full = f"{key}.{name}" if error.absolute_path else name
                messages.append(f"{full}: unknown key (allowed here: {', '.join(allowed)})")
            continue
        messages.append(f"{key}: {error.message}")
    return messages


def validate_config(config: dict, schema_path: Path = SCHEMA) -> dict:
    """Check ``config`` against the schema, fill in defaults, and return it.

    Raises ConfigError listing every problem by key, before and after the defaults are set.
    """
    errors = config_errors(config, schema_path)
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    fill_defaults(config, load_schema(schema_path))
    errors = config_errors(config, schema_path)
    if errors:  # a default that breaks the schema: a bug of the schema, named like user errors
        raise ConfigError("invalid configuration after defaults:\n  " + "\n  ".join(errors))
    _sort_keys(config)
    return config


def _sort_keys(node):
    """Order every mapping by key, in place.

    Snakemake compares dict params as written, so the same settings listed in another order in a
    config file must not look like a change.
    """
    if isinstance(node, dict):
        items = sorted(node.items())
        node.clear()
        node.update((key, _sort_keys(value)) for key, value in items)
    elif isinstance(node, list):
        node[:] = [_sort_keys(value) for value in node]
    return node


def load_config(path: str | Path, schema_path: Path = SCHEMA) -> dict:
    """Read and validate a config file outside Snakemake (CLI, tests, benchmarks)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    try:
        return validate_config(config, schema_path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
