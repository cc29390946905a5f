"""The ``bayespipe`` command: audit and explain version folders (audit, lineage, diff, reproduce,
rocrate)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _audit(args: argparse.Namespace) -> int:
    from bayespipe.audit.check import audit

    problems = audit(args.version_dir, workdir=args.workdir)
    if not problems:
        print("OK")
        return 0
    for problem in problems:
        print(problem)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayespipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    audit = commands.add_parser(
        "audit", help="re-hash a version folder and check it against its manifest"
    )
    audit.add_argument("version_dir", type=Path, help="e.g. results/latest or results/<version>")
    audit.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where recorded raw inputs are resolved (default: the run's workflow folder)",
    )
    audit.set_defaults(handler=_audit)

    from bayespipe import versions_cli
    from bayespipe.audit import diff, lineage, reproduce, rocrate

    for module in (lineage, diff, reproduce, rocrate, versions_cli):
        module.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
