"""``bayespipe reproduce <version>``.

Re-run a version's recorded config and code, compare every file.

1. The recorded code (``recorded_code``): the version's own snapshot, else the original
   checkout, else ``git archive`` of the recorded commit; it must match every recorded sha256.
2. A scratch checkout (``staging``): that code, the recorded config, the raw inputs linked from
   the original workflow folder (their hashes checked).
3. Snakemake runs there (``rerun``); its version id should equal the original's (same config,
   code, data and software), then every file of the two version folders is compared
   (``comparers``, with the per-run fields each writer declares in ``volatile``) and reported
   (``outcome``). Unexpected differences make the command exit 1. A file tampered with after
   the run is reported twice: by the audit that runs first, and as an unexpected difference.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from bayespipe.audit.check import audit
from bayespipe.audit.compare import compare_maps
from bayespipe.audit.comparers import (  # noqa: F401  (the comparison API, re-exported)
    EQUIVALENT,
    EXPECTED,
    IDENTICAL,
    UNEXPECTED,
    FileComparison,
    compare_file,
    compare_versions,
    nondeterministic_outputs,
)
from bayespipe.audit.diff import load_version
from bayespipe.audit.outcome import ReproduceResult, format_result
from bayespipe.audit.recorded_code import ReproduceError, locate_code
from bayespipe.audit.rerun import run_workflow
from bayespipe.audit.staging import run_config, stage_checkout
from bayespipe.versions import version_path


def reproduce(
    version_dir: str | Path,
    *,
    workdir: str | Path | None = None,
    scratch_parent: str | Path | None = None,
    cores: int = 2,
    keep: bool = False,
    timeout: int | None = None,
) -> ReproduceResult:
    """Re-run ``version_dir`` in a scratch folder and compare; see the module docstring."""
    version_dir, manifest = load_version(version_dir)
    source = Path(workdir or manifest.get("workdir") or ".")
    scratch = Path(tempfile.mkdtemp(prefix="bayespipe-reproduce-", dir=scratch_parent))
    try:
        code_dir, code_source = locate_code(version_dir, manifest, source, scratch)
        checkout = scratch / "work" / "repo"
        problems = [str(p) for p in audit(version_dir, workdir=source)]
        problems += stage_checkout(code_dir, manifest, source, checkout)
        run = run_workflow(checkout, cores, timeout)
        result = ReproduceResult(
            manifest["version"],
            None,
            code_source,
            str(scratch) if keep else None,
            run.returncode == 0,
            problems,
            log_tail=run.stdout[-4000:],
        )
        latest = checkout / run_config(manifest).get("results_dir", "results") / "latest"
        if run.returncode != 0 or not latest.exists():
            result.run_ok = False
            return result
        new_dir, new_manifest = load_version(latest)
        result.reproduced_version = new_manifest["version"]
        result.environment = _environment_changes(manifest, new_manifest)
        result.files = compare_versions(version_dir, new_dir, manifest, result.environment)
        return result
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _environment_changes(manifest: dict, new_manifest: dict) -> list[str]:
    changes = []
    for section in ("software", "stan_engine"):
        changes += compare_maps(manifest.get(section, {}), new_manifest.get(section, {}))
    return [f"{c.key}: {c.a} -> {c.b}" for c in changes]


def add_command(commands) -> None:
    """``bayespipe reproduce VERSION``: exit 0 when reproduced, 1 on unexpected differences."""
    parser = commands.add_parser(
        "reproduce",
        help="re-run a version's recorded config and code in a scratch folder and compare "
        "every file",
    )
    parser.add_argument(
        "version_dir", type=version_path, help="e.g. results/<version>, a version id or a tag"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where raw inputs are found (default: the run's workflow folder)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="parent of the scratch folder (default: the system temp folder)",
    )
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores of the re-run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the comparison as JSON to this file"
    )
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    from bayespipe.errors import InputError
    from bayespipe.io import write_json

    try:
        result = reproduce(
            args.version_dir,
            workdir=args.workdir,
            scratch_parent=args.scratch,
            cores=args.cores,
            keep=args.keep,
        )
    except (ReproduceError, InputError, OSError) as exc:
        print(f"bayespipe reproduce: {exc}", file=sys.stderr)
        return 2
    print(format_result(result))
    if args.json:
        write_json(args.json, json.loads(result.to_json()))
    return 0 if result.ok else 1
