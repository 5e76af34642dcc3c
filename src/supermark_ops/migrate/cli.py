"""`supermark-ops migrate`: progress and report on the terminal, JSON for machines."""

from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from supermark_ops import results
from supermark_ops.config import STATE_DIR
from supermark_ops.errors import OpsError
from supermark_ops.migrate.errors import MigrateError
from supermark_ops.migrate.run import migrate, verify_only
from supermark_ops.migrate.verify import Report
from supermark_ops.pg import parse


def add_parser(sub: Any) -> None:
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
        "--jobs", type=_jobs, default=2, help="parallel jobs building indexes and constraints (default 2)"
    )
    mig.add_argument("--replace", action="store_true", help="replace a non-empty target (dumped first)")
    mig.add_argument(
        "--replace-migrated",
        action="store_true",
        help="replace a target holding a verified migration (the live database after a cut-over)",
    )
    mig.add_argument(
        "--workdir", type=Path, default=Path("/var/lib/supermark-ops/migrate"), help="where dumps go"
    )
    mig.add_argument(
        "--state-dir",
        type=Path,
        default=STATE_DIR,
        help=f"where migrate.lock is held while it runs: one migration at a time, and the backup timers "
        f"wait for it (default {STATE_DIR})",
    )
    mig.add_argument(
        "--client-image",
        default="",
        help="run pg_dump/pg_restore from this image when the local ones are too old",
    )
    mig.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")
    mig.set_defaults(handler=migrate_command)


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (it is {jobs})")
    return jobs


def _table(report: Report) -> Table:
    table = Table(title="verification")
    for col in ("table", "source rows", "target rows", "match"):
        table.add_column(col)
    for t in report.tables:
        table.add_row(t.name, str(t.source_rows), str(t.target_rows), "yes" if t.ok else "[red]NO[/red]")
    for name, (a, b) in report.sequences.items():
        table.add_row(f"sequence {name}", str(a), str(b), "yes" if a == b else "[red]NO[/red]")
    return table


def _url(value: str, what: str, require_ssl: bool = False) -> Any:
    if not value:
        raise MigrateError(f"No {what} URL given: pass --{what} or set SUPERMARK_MIGRATE_{what.upper()}_URL.")
    return parse(value, what=what, require_ssl=require_ssl)


def migrate_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    # Progress only for a person at a terminal; cron, Ansible and pipes get the result alone.
    quiet = args.json or not err.is_terminal
    try:
        source = _url(args.source, "source", require_ssl=True)
        target = _url(args.target, "target")
        with err.status("preflight", spinner="dots") if not quiet else nullcontext() as status:

            def phase(name: str) -> None:
                if status is not None:
                    status.update(name)
                    err.log(f"[bold]{name}[/bold]")

            def on_table(name: str) -> None:
                if status is not None:
                    status.update(f"verify {name}")

            if args.verify_only:
                report = verify_only(source, target, on_table, args.client_image)
                result: dict[str, Any] = results.ok(verification=report.as_dict())
                if not report.ok:
                    result.update(ok=False, reason="the target does not match the source")
            else:
                summary = migrate(
                    source,
                    target,
                    args.workdir,
                    jobs=args.jobs,
                    replace=args.replace,
                    replace_migrated=args.replace_migrated,
                    dry_run=args.dry_run,
                    client_image=args.client_image,
                    lock_file=args.state_dir / "migrate.lock",
                    phase=phase,
                    on_table=on_table,
                )
                report = summary.report or Report()
                result = summary.as_dict()
    except OpsError as exc:
        if args.json:
            print(results.dumps(results.failed(str(exc))))
        else:
            err.print(f"[red]supermark-ops migrate:[/red] {exc}")
        return 2
    if args.json:
        print(results.dumps(result))
    else:
        out = Console()
        if report.tables or report.sequences:
            out.print(_table(report))
        for line in report.differences:
            out.print(f"[red]difference:[/red] {line}")
        out.print("ok" if result["ok"] else "[red]verification FAILED[/red]", highlight=False)
    return 0 if result["ok"] else 1
