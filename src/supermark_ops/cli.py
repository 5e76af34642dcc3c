"""The ``supermark-ops`` command: argument parsing and presentation only.

Features (migration, backup, monitor) add their subcommands here as they
land; this module imports them, and nothing imports this module.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from supermark_ops import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supermark-ops",
        description="Provision, deploy, back up and monitor a self-hosted Supermark.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    mon = sub.add_parser("monitor", help="run the health checks once, print JSON, alert on change")
    mon.add_argument("--config", type=Path, default=Path("/etc/supermark-ops/monitor.yml"))
    mon.add_argument("--no-alert", action="store_true", help="check and print, send nothing")
    mon.add_argument("--log-file", type=Path, help="also log to this file")
    mig = sub.add_parser(
        "migrate",
        help="copy a Vercel/Neon Postgres into the stack's Postgres, and verify it",
        description="--source and --target URLs may come from SUPERMARK_MIGRATE_SOURCE_URL and "
        "SUPERMARK_MIGRATE_TARGET_URL instead, so passwords stay out of shell history.",
    )
    mig.add_argument(
        "--source", default=os.environ.get("SUPERMARK_MIGRATE_SOURCE_URL", ""), help=argparse.SUPPRESS
    )
    mig.add_argument(
        "--target", default=os.environ.get("SUPERMARK_MIGRATE_TARGET_URL", ""), help=argparse.SUPPRESS
    )
    mig.add_argument("--dry-run", action="store_true", help="preflight only: read both sides, write nothing")
    mig.add_argument("--verify-only", action="store_true", help="compare source and target, change nothing")
    mig.add_argument(
        "--jobs", type=int, default=2, help="parallel jobs building indexes and constraints (default 2)"
    )
    mig.add_argument("--replace", action="store_true", help="replace a non-empty target (dumped first)")
    mig.add_argument(
        "--workdir", type=Path, default=Path("/var/lib/supermark-ops/migrate"), help="where dumps go"
    )
    mig.add_argument(
        "--client-image",
        default="",
        help="run pg_dump/pg_restore from this image when the local ones are too old",
    )
    mig.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")
    from supermark_ops.backup.cli import add_parser

    add_parser(sub)
    return parser


def _logging(log_file: Path | None) -> None:
    """Log to the file when one is given (cron runs), else to stderr."""
    handlers: list[logging.Handler] = (
        [logging.FileHandler(log_file)] if log_file is not None else [logging.StreamHandler(sys.stderr)]
    )
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def monitor(args: argparse.Namespace) -> int:
    from supermark_ops.monitor.run import MonitorError, load_config, run

    _logging(args.log_file)
    try:
        outcome = run(load_config(args.config), send=not args.no_alert)
    except MonitorError as exc:
        print(f"supermark-ops monitor: {exc}", file=sys.stderr)
        return 2
    if outcome.skipped:
        return 0
    print(json.dumps(outcome.report, indent=2, sort_keys=True))
    # 0 healthy, 1 unhealthy, 3 healthy-or-not but an alert could not be sent.
    if outcome.failed_channels:
        return 3
    return 0 if outcome.healthy else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "migrate":
        from supermark_ops.migrate.cli import migrate_command

        return migrate_command(args)
    if args.command == "backup":
        from supermark_ops.backup.cli import backup_command

        _logging(args.log_file)
        return backup_command(args)
    return monitor(args)


if __name__ == "__main__":
    sys.exit(main())
