"""The ``supermark-ops`` command: argument parsing and presentation only.

Features (migration, backup, monitor) add their subcommands here as they
land; this module imports them, and nothing imports this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from supermark_ops import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supermark-ops",
        description="Provision, deploy, back up and monitor a self-hosted Supermark.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0  # pragma: no cover - no subcommand is registered yet


if __name__ == "__main__":
    sys.exit(main())
