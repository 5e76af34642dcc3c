"""The ``supermark-ops`` command: argument parsing and presentation only.

Each room adds its subcommand (`add_parser`, which names its handler); this module imports
them, and nothing imports this module.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from supermark_ops import __version__, http, results
from supermark_ops.backup.cli import add_parser as add_backup
from supermark_ops.console.cli import add_parser as add_console
from supermark_ops.documents.cli import add_parser as add_documents
from supermark_ops.external.cli import add_parser as add_check
from supermark_ops.external.cli import add_trigger_parser as add_trigger
from supermark_ops.migrate.cli import add_parser as add_migrate
from supermark_ops.monitor.cli import add_parser as add_monitor
from supermark_ops.pg.cli import add_parser as add_pg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supermark-ops",
        description="Provision, deploy, back up and monitor a self-hosted Supermark.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_console(sub)
    add_monitor(sub)
    add_migrate(sub)
    add_documents(sub.choices["migrate"])  # `migrate documents`: the files, after the database
    add_backup(sub)
    add_pg(sub)
    add_check(sub)
    add_trigger(sub)
    health = sub.add_parser(
        "health", help="wait until an app's /api/health answers ok (what a deploy waits for)"
    )
    health.add_argument("url", help="the full /api/health URL")
    health.add_argument("--timeout", type=float, default=180, help="seconds to wait (default 180)")
    health.add_argument("--ca-file", default="", help="a CA bundle to trust for HTTPS (a private CA)")
    health.set_defaults(handler=health_command)
    return parser


def health_command(args: argparse.Namespace) -> int:
    problem = http.wait_healthy(args.url, args.timeout, http.verify(args.ca_file))
    print(results.dumps(results.failed(problem, url=args.url) if problem else results.ok(url=args.url)))
    return 1 if problem else 0


def _logging(log_file: Path | None) -> None:
    """Log to the file when one is given (cron and timer runs), else to stderr."""
    handlers: list[logging.Handler] = (
        [logging.FileHandler(log_file)] if log_file is not None else [logging.StreamHandler(sys.stderr)]
    )
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _logging(getattr(args, "log_file", None))
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
