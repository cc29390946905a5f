"""The ``bayespipe`` command: audit and explain version folders.

Every subcommand (audit, lineage, diff, reproduce, rocrate) registers itself through its module's
``add_command``.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayespipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from bayespipe import versions_cli
    from bayespipe.audit import check, diff, lineage, reproduce, rocrate

    for module in (check, lineage, diff, reproduce, rocrate, versions_cli):
        module.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
