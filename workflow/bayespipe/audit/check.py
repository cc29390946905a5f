"""``bayespipe audit``: re-hash a version folder and check it against its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bayespipe.io import sha256_file
from bayespipe.provenance import MANIFEST, is_metadata_file
from bayespipe.versions import version_path


@dataclass(frozen=True)
class Problem:
    # missing | modified | unlisted | incomplete | input-missing | input-modified | bad-manifest
    kind: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


def load_manifest(version_dir: str | Path) -> dict:
    path = Path(version_dir) / MANIFEST
    return json.loads(path.read_text())


def _resolve_input(path: str, version_dir: Path, workdir: Path) -> tuple[Path, str | None]:
    """The file a recorded input names, and its path relative to the version folder if inside it."""
    full = Path(path) if Path(path).is_absolute() else workdir / path
    try:
        return full, str(full.resolve().relative_to(version_dir.resolve()))
    except ValueError:
        return full, None


def audit(version_dir: str | Path, workdir: str | Path | None = None) -> list[Problem]:
    """Every problem found in ``version_dir``; an empty list means the folder is sound.

    Recorded inputs outside the folder (raw data) are resolved against ``workdir``, by default
    the workflow directory recorded in the manifest.
    """
    version_dir = Path(version_dir).resolve()
    if not version_dir.is_dir():
        return [Problem("missing", str(version_dir), "no such version folder")]
    if not (version_dir / MANIFEST).is_file():
        return [Problem("incomplete", str(version_dir), f"no {MANIFEST}: the run did not complete")]
    try:
        manifest = load_manifest(version_dir)
        listed = {entry["path"]: entry for entry in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [Problem("bad-manifest", str(version_dir / MANIFEST), str(exc))]
    workdir = Path(workdir or manifest.get("workdir") or ".")

    problems = []
    for rel, entry in sorted(listed.items()):
        path = version_dir / rel
        if not path.is_file():
            problems.append(Problem("missing", rel))
        elif sha256_file(path) != entry["sha256"]:
            problems.append(Problem("modified", rel, "sha256 differs from the manifest"))
    for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
        rel = str(path.relative_to(version_dir))
        if rel not in listed and not is_metadata_file(rel):
            problems.append(Problem("unlisted", rel, "not in the manifest"))
    problems += _input_problems(manifest, listed, version_dir, workdir)
    return problems


def _input_problems(
    manifest: dict, listed: dict, version_dir: Path, workdir: Path
) -> list[Problem]:
    problems, seen = [], set()
    for job in manifest.get("jobs", []):
        for item in job.get("inputs", []):
            key = (item["path"], item["sha256"])
            if key in seen:
                continue
            seen.add(key)
            full, inside = _resolve_input(item["path"], version_dir, workdir)
            needed = f"input of rule {job['rule']}"
            if inside is not None and inside not in listed:
                problems.append(
                    Problem("input-missing", item["path"], f"{needed}, not in the manifest")
                )
            elif inside is not None and listed[inside]["sha256"] != item["sha256"]:
                problems.append(
                    Problem(
                        "input-modified", item["path"], f"{needed}, differs from what the job read"
                    )
                )
            elif inside is None and not full.is_file():
                problems.append(Problem("input-missing", item["path"], needed))
            elif inside is None and sha256_file(full) != item["sha256"]:
                problems.append(
                    Problem("input-modified", item["path"], f"{needed}, changed since the run")
                )
    return problems


def add_command(commands) -> None:
    """``bayespipe audit VERSION_DIR [--workdir DIR]``: exit 0 when the folder checks out."""
    parser = commands.add_parser(
        "audit", help="re-hash a version folder and check it against its manifest"
    )
    parser.add_argument(
        "version_dir", type=version_path, help="e.g. results/latest, a version id or a tag"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where recorded raw inputs are resolved (default: the run's workflow folder)",
    )
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    problems = audit(args.version_dir, workdir=args.workdir)
    if not problems:
        print("OK")
        return 0
    for problem in problems:
        print(problem)
    return 1
