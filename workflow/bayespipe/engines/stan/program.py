"""What a Stan program declares, read without compiling it.

``stanc --info`` (the compiler's front end, milliseconds) gives every variable of the data,
parameters and generated quantities blocks with its base type and number of dimensions. It
does not give sizes or bounds, so the data block's declarations are also read from the program
text (sizes and bounds that are a literal or a data variable are checked before any fit; any
other expression is left to Stan, which checks it when it reads the data).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bayespipe.errors import InputError

CONTAINER_DIMENSIONS = {"vector": 1, "row_vector": 1, "simplex": 1, "matrix": 2}
BLOCK = re.compile(r"(?<!transformed )\bdata\s*\{")
PARAMETERS_BLOCK = re.compile(r"(?<!transformed )\bparameters\s*\{")
GENERATED_BLOCK = re.compile(r"\bgenerated\s+quantities\s*\{")
DECLARATION = re.compile(
    r"^(?:array\s*\[(?P<array>[^\]]*)\]\s*)?"
    r"(?P<type>int|real|vector|row_vector|matrix|simplex)\s*"
    r"(?:<(?P<bounds>[^>]*)>)?\s*"
    r"(?:\[(?P<dims>[^\]]*)\])?\s*"
    r"(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*$"
)


@dataclass(frozen=True)
class DataVariable:
    """One data-block declaration: ``array[N] int<lower=0> y`` -> int, sizes ('N',), lower '0'."""

    name: str
    base: str  # "int" or "real"
    sizes: tuple[str, ...] = ()  # size expressions, outermost first
    lower: str | None = None
    upper: str | None = None
    declaration: str = ""

    @property
    def dimensions(self) -> int:
        return len(self.sizes)


@dataclass(frozen=True)
class ProgramInfo:
    """The data block and the variable names of one Stan program."""

    path: str
    data: dict[str, DataVariable]
    parameters: tuple[str, ...]
    generated: dict[str, str] = field(default_factory=dict)  # name -> base type
    transformed: tuple[str, ...] = ()

    @property
    def has_prior_only(self) -> bool:
        return "prior_only" in self.data

    @property
    def has_log_lik(self) -> bool:
        return "log_lik" in self.generated

    def replicated(self) -> dict[str, str]:
        """Data variable -> its replicate: a generated quantity named like it plus ``_rep``."""
        return {name: f"{name}_rep" for name in self.data if f"{name}_rep" in self.generated}


def stanc_path() -> str:
    """A stanc3 binary: CmdStan's (CMDSTAN or CmdStanPy's install) or the one httpstan ships."""
    candidates = []
    if os.environ.get("CMDSTAN"):
        candidates.append(Path(os.environ["CMDSTAN"]) / "bin" / "stanc")
    try:
        import cmdstanpy

        candidates.append(Path(cmdstanpy.cmdstan_path()) / "bin" / "stanc")
    except (ImportError, ValueError, RuntimeError):
        pass
    try:
        import httpstan

        candidates.append(Path(httpstan.__file__).parent / "stanc")
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("stanc")
    if found:
        return found
    raise RuntimeError("no stanc found (CmdStan's bin/stanc or httpstan's); install either")


def _without_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"(//|#)[^\n]*", " ", text)


def _block(text: str, start: re.Match) -> str:
    depth, begin = 1, start.end()
    for index in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[begin:index]
    return text[begin:]


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def _bounds(text: str | None) -> dict[str, str]:
    bounds = {}
    for part in _split_top(text or ""):
        key, _, value = part.partition("=")
        bounds[key.strip()] = value.strip()
    return bounds


def parse_data_block(text: str) -> dict[str, DataVariable]:
    """Declarations of the data block of a Stan program's text (names in declaration order)."""
    return _parse_block(text, BLOCK)


def parse_parameters_block(text: str) -> dict[str, DataVariable]:
    """Declarations of the parameters block (sizes and bounds as written)."""
    return _parse_block(text, PARAMETERS_BLOCK)


def parse_generated_block(text: str) -> dict[str, DataVariable]:
    """Declarations at the top level of the generated quantities block.

    ``vector[J] log_lik;`` -> sizes ('J',); an initialiser (``= ...``) is dropped, and statements
    inside loops or nested blocks are not top-level declarations of the block.
    """
    code = _without_comments(text)
    start = GENERATED_BLOCK.search(code)
    if not start:
        return {}
    top, depth = [], 0
    for char in _block(code, start):
        if char in "{}":
            depth += 1 if char == "{" else -1
            top.append(";")  # a nested block ends the statement before it
        elif depth == 0:
            top.append(char)
    return _declarations(_without_initializer(s) for s in "".join(top).split(";"))


def _without_initializer(statement: str) -> str:
    """``vector<lower=0>[N] x = f(y)`` -> ``vector<lower=0>[N] x``.

    An ``=`` inside <>, [] or () is a bound or an expression, not the initialiser.
    """
    depth = 0
    for index, char in enumerate(statement):
        depth += {"<": 1, "[": 1, "(": 1, ">": -1, "]": -1, ")": -1}.get(char, 0)
        if char == "=" and depth == 0:
            return statement[:index]
    return statement


def _parse_block(text: str, block: re.Pattern) -> dict[str, DataVariable]:
    code = _without_comments(text)
    start = block.search(code)
    if not start:
        return {}
    return _declarations(_block(code, start).split(";"))


def _declarations(statements) -> dict[str, DataVariable]:
    variables = {}
    for statement in statements:
        statement = " ".join(statement.split())
        match = DECLARATION.match(statement)
        if not match:
            continue
        kind = match["type"]
        sizes = tuple(_split_top(match["array"] or "")) + tuple(_split_top(match["dims"] or ""))
        bounds = _bounds(match["bounds"])
        variables[match["name"]] = DataVariable(
            match["name"],
            "int" if kind == "int" else "real",
            sizes,
            bounds.get("lower"),
            bounds.get("upper"),
            statement,
        )
    return variables


@lru_cache(maxsize=32)
def _stanc_info(path: str, mtime_ns: int) -> dict:
    try:
        result = subprocess.run(
            [stanc_path(), "--info", path], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as exc:
        raise InputError(path, f"could not read the program with stanc --info ({exc})") from exc
    if result.returncode != 0:
        raise InputError(path, f"stanc rejects the program:\n{result.stderr.strip()}")
    return json.loads(result.stdout)


def program_info(stan_file: str | Path) -> ProgramInfo:
    """Data block, parameters and generated quantities of a program (stanc --info, no compile)."""
    path = Path(stan_file)
    if not path.is_file():
        raise InputError(path, "Stan program not found")
    info = _stanc_info(str(path.resolve()), path.stat().st_mtime_ns)
    declared = parse_data_block(path.read_text())
    data = {}
    for name, entry in info.get("inputs", {}).items():
        parsed = declared.get(name)
        dims = int(entry["dimensions"])
        if parsed is None or parsed.dimensions != dims or parsed.base != entry["type"]:
            # A declaration the text reader does not follow: trust stanc's type, sizes unknown.
            parsed = DataVariable(name, entry["type"], ("?",) * dims)
        data[name] = parsed
    return ProgramInfo(
        str(stan_file),
        data,
        tuple(info.get("parameters", {})),
        {name: e["type"] for name, e in info.get("generated quantities", {}).items()},
        tuple(info.get("transformed parameters", {})),
    )
