"""``bayespipe versions``, ``bayespipe tag`` and ``bayespipe gc`` (see ``bayespipe.versions``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from bayespipe import runlock, versions
from bayespipe.errors import InputError
from bayespipe.versioning import WORK_FOLDER

MOVED = 3  # headline results shown per version: those that moved most


def _results(parser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="the results folder (default: results)",
    )


def add_command(commands) -> None:
    listing = commands.add_parser(
        "versions", help="list the versions, newest first: state, run, engine, what moved"
    )
    _results(listing)
    listing.add_argument("--json", action="store_true", help="print the same as JSON")
    listing.set_defaults(handler=_versions)

    tagging = commands.add_parser("tag", help="name a version: results/tags/NAME links to it")
    tagging.add_argument("version", help="a version id, folder, tag or 'latest'")
    tagging.add_argument("name", help="the tag (letters, digits, '.', '_', '-')")
    tagging.add_argument("--delete", action="store_true", help="remove the tag NAME instead")
    _results(tagging)
    tagging.set_defaults(handler=_tag)

    collecting = commands.add_parser(
        "gc",
        help="remove versions beyond the newest N (tagged ones and latest stay) and the "
        "work-tree files only they link; a dry run unless --yes",
    )
    collecting.add_argument("--keep", type=int, default=10, help="complete versions kept (10)")
    collecting.add_argument("--yes", action="store_true", help="remove (default: only say what)")
    collecting.add_argument("--json", action="store_true", help="print the plan as JSON")
    _results(collecting)
    collecting.set_defaults(handler=_gc)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_version(v: versions.Version) -> str:
    start = (v.start_time or "-")[:16].replace("T", " ")
    commit = (v.git_commit or "-")[:8] + ("+dirty" if v.git_dirty else "")
    names = [*(["latest"] if v.latest else []), *v.tags]
    moved = "; ".join(
        f"{m.result}: {_number(m.before)} -> {_number(m.after)}"
        + (
            f" ({m.verdict_before} -> {m.verdict_after})"
            if m.verdict_before != m.verdict_after
            else ""
        )
        for m in v.moved
    )
    fields = [
        v.id,
        v.label or "-",
        start,
        _duration(v.duration_seconds),
        v.state,
        v.executor or "-",
        v.stan_engine or "-",
        commit,
        f"made {v.files_made} reused {v.files_reused}" if v.complete else "-",
    ]
    line = "  ".join(fields)
    if names:
        line += f"  [{', '.join(names)}]"
    if moved:
        line += f"  moved since {v.previous}: {moved}"
    return line


def most_moved(previous: Path, folder: Path, count: int = MOVED) -> list:
    """Rank the headline results that moved most between two versions.

    As the report's What changed ranks them: one source for both.
    """
    from bayespipe.report.changes import headline_movements, largest

    return largest(headline_movements(previous, folder), count)


def _versions(args) -> int:
    found = versions.list_versions(args.results, moved=most_moved)
    if args.json:
        rows = [{**asdict(v), "state": v.state} for v in found]
        print(json.dumps(rows, indent=2, default=str))
    elif not found:
        print(f"no versions in {args.results}")
    else:
        print(
            "  ".join(
                [
                    "version",
                    "label",
                    "start (UTC)",
                    "took",
                    "state",
                    "executor",
                    "stan",
                    "commit",
                    "files",
                    "[tags]",
                    "moved",
                ]
            )
        )
        for version in found:
            print(format_version(version))
    return 0


def _tag(args) -> int:
    try:
        if args.delete:
            versions.untag(args.results, args.name)
            print(f"removed tag {args.name}")
        else:
            link = versions.tag(args.results, args.version, args.name)
            print(f"{link} -> {link.resolve().name}")
    except InputError as error:
        print(f"bayespipe tag: {error}", file=sys.stderr)
        return 1
    return 0


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def _gc(args) -> int:
    results = Path(args.results)
    work_root = results / WORK_FOLDER
    trees = sorted(p for p in work_root.iterdir() if p.is_dir()) if work_root.is_dir() else []
    holders = [h for h in map(runlock.work_tree_holder, trees) if h is not None]
    if holders and args.yes:
        print(
            f"bayespipe gc: a run is going here ({runlock.describe(holders[0])}); "
            "try again when it has finished",
            file=sys.stderr,
        )
        return 1
    try:
        plan = versions.plan_collection(results, args.keep)
    except InputError as error:
        print(f"bayespipe gc: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**plan.to_dict(), "dry_run": not args.yes}, indent=2))
    else:
        verb = "removed" if args.yes else "would remove"
        print(f"keeps {len(plan.kept)} version(s): {', '.join(plan.kept) or '-'}")
        print(f"{verb} {len(plan.removed)} version(s): {', '.join(plan.removed) or '-'}")
        print(f"{verb} {len(plan.work_files)} work-tree file(s) no kept version links")
        print(
            f"{'freed' if args.yes else 'would free'} {_size(plan.freed_bytes)} "
            f"({plan.freed_bytes} bytes)" + ("" if args.yes else "; run with --yes to remove")
        )
    if args.yes:
        versions.collect(results, plan)
    return 0
