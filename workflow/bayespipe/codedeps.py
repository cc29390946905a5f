"""The code a job depends on, derived from the code itself rather than listed by hand.

A job's code is the text of its rule, its script, and every module of this package that the
script imports, directly or through other package modules (any ``import`` statement, including
those inside functions, which is where heavy dependencies are imported lazily). Importing a
module also runs its parent packages' ``__init__.py``, so those count too. A module that no
script imports changes no job. Stan programs are rule inputs, so Snakemake tracks them itself.

A module imported by name at run time (``importlib``: the Stan engine the config picks) is not an
``import`` statement; the caller names it through ``dynamic``, {module: modules it loads}, so a
job's key holds the engine the job runs and not the one it never loads.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

PACKAGE = "bayespipe"


def _module_file(package_dir: Path, dotted: str) -> Path | None:
    """The file of ``bayespipe.x.y`` under ``package_dir`` (the folder named bayespipe)."""
    parts = dotted.split(".")[1:]
    base = package_dir.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _module_name(package_dir: Path, path: Path) -> str:
    rel = path.relative_to(package_dir).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imported_modules(source: str, current: str = "__main__", is_package: bool = False) -> set[str]:
    """Dotted names of this package's modules that ``source`` may import (anywhere in the file).

    ``from a.b import c`` yields both ``a.b`` and ``a.b.c``; callers keep the ones that exist.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(current, is_package, node.level, node.module)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _with_parents(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def _module_imports(package_dir: Path, path: Path) -> frozenset[Path]:
    name = _module_name(package_dir, path)
    names = imported_modules(path.read_text(), name, path.name == "__init__.py")
    return frozenset(_existing(package_dir, names))


def _existing(package_dir: Path, names: set[str]) -> set[Path]:
    files = set()
    for dotted in names:
        for each in _with_parents(dotted):
            found = _module_file(package_dir, each)
            if found:
                files.add(found)
    return files


def import_closure(
    script: str | Path,
    package_dir: str | Path,
    dynamic: Mapping[str, Iterable[str]] | None = None,
) -> set[Path]:
    """Every package module file that ``script`` imports, transitively.

    ``dynamic`` maps a dotted module name to the modules it imports by name at run time.
    """
    package_dir = Path(package_dir).resolve()
    loads = {
        _module_file(package_dir, module): _existing(package_dir, set(targets))
        for module, targets in (dynamic or {}).items()
    }
    pending = _existing(package_dir, imported_modules(Path(script).read_text()))
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        pending |= (_module_imports(package_dir, path) | loads.get(path, set())) - seen
    return seen


_RULE_START = re.compile(r"^(\s*)(?:rule|checkpoint)\b\s*(\w*)\s*:")


def _block(lines: list[str], start: int) -> str:
    """The line at ``start`` and every following line indented deeper (blank lines included)."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = [lines[start]]
    for following in lines[start + 1 :]:
        if following.strip() and len(following) - len(following.lstrip()) <= indent:
            break
        block.append(following)
    return "\n".join(block).rstrip() + "\n"


def rule_source(snakefile: str | Path, name: str, lineno: int | None = None) -> str:
    """The text of a rule in a rule file.

    ``rule <name>:`` (or, for a rule named in a loop, the ``rule:`` header nearest above ``lineno``)
    and every deeper-indented line.
    """
    lines = Path(snakefile).read_text().splitlines()
    for start, line in enumerate(lines):
        match = _RULE_START.match(line)
        if match and match.group(2) == name:
            return _block(lines, start)
    if lineno:
        for start in range(min(lineno, len(lines)) - 1, -1, -1):
            if _RULE_START.match(lines[start]):
                return _block(lines, start)
    raise LookupError(f"{snakefile}: no rule named {name!r}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_path(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def job_code(
    root: str | Path,
    rule_name: str,
    rule_file: str | Path,
    script: str | Path | None,
    package_dir: str | Path,
    lineno: int | None = None,
    dynamic: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, str]:
    """{what: sha256} for the code of one rule's jobs.

    The rule's text, its script and the package modules the script imports (``dynamic``: see
    ``import_closure``). Paths are relative to the workflow ``root``.
    """
    root = Path(root).resolve()
    code = {f"rule {rule_name}": sha256_text(rule_source(rule_file, rule_name, lineno))}
    if script:
        script = Path(script).resolve()
        code[str(script.relative_to(root))] = sha256_path(script)
        for module in sorted(import_closure(script, package_dir, dynamic)):
            code[str(module.relative_to(root))] = sha256_path(module)
    return code


def loaded_package_modules(root: str | Path, modules: dict) -> set[str]:
    """Files (relative to ``root``) of this package's modules in ``modules`` (e.g. sys.modules)."""
    root = Path(root).resolve()
    files = set()
    for name, module in list(modules.items()):
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            continue
        location = getattr(module, "__file__", None)
        if not location:
            continue
        try:
            files.add(str(Path(location).resolve().relative_to(root)))
        except ValueError:
            continue  # the package imported from somewhere else: not this workflow's code
    return files
