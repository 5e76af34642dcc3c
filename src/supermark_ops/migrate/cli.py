"""`supermark-ops migrate`: progress and report on the terminal, JSON for machines."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from supermark_ops.migrate.errors import MigrateError
from supermark_ops.migrate.run import migrate, verify_only
from supermark_ops.migrate.urls import parse
from supermark_ops.migrate.verify import Report


def _table(report: Report) -> Table:
    table = Table(title="verification")
    for col in ("table", "source rows", "target rows", "match"):
        table.add_column(col)
    for t in report.tables:
        table.add_row(t.name, str(t.source_rows), str(t.target_rows), "yes" if t.ok else "[red]NO[/red]")
    for name, (a, b) in report.sequences.items():
        table.add_row(f"sequence {name}", str(a), str(b), "yes" if a == b else "[red]NO[/red]")
    return table


def migrate_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    # Progress only for a person at a terminal; cron, Ansible and pipes get the result alone.
    quiet = args.json or not err.is_terminal
    try:
        source = parse(args.source, what="source", require_ssl=True)
        target = parse(args.target, what="target")
        with err.status("preflight", spinner="dots") if not quiet else _Null() as status:

            def phase(name: str) -> None:
                if not quiet:
                    status.update(f"{name}")
                    err.log(f"[bold]{name}[/bold]")

            def on_table(name: str) -> None:
                if not quiet:
                    status.update(f"verify {name}")

            if args.verify_only:
                report = verify_only(source, target, on_table, args.client_image)
                result: dict[str, object] = {"ok": report.ok, "verification": report.as_dict()}
            else:
                summary = migrate(
                    source,
                    target,
                    args.workdir,
                    jobs=args.jobs,
                    replace=args.replace,
                    dry_run=args.dry_run,
                    client_image=args.client_image,
                    phase=phase,
                    on_table=on_table,
                )
                report = summary.report or Report()
                result = summary.as_dict()
    except MigrateError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        else:
            err.print(f"[red]supermark-ops migrate:[/red] {exc}")
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        out = Console()
        if report.tables or report.sequences:
            out.print(_table(report))
        for line in report.differences:
            out.print(f"[red]difference:[/red] {line}")
        out.print("ok" if result["ok"] else "[red]verification FAILED[/red]", highlight=False)
    return 0 if result["ok"] else 1


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: object) -> None:
        return None
