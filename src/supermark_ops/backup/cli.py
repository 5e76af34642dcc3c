"""`supermark-ops backup run|drill|list|restore`: progress for a person, JSON for timers."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from supermark_ops import config, results
from supermark_ops.backup.backup import run_backup
from supermark_ops.backup.common import Setup
from supermark_ops.backup.drill import run_drill
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.restore import listing, run_restore
from supermark_ops.errors import OpsError


def add_parser(sub: Any) -> None:
    bk = sub.add_parser("backup", help="back up, drill, list and restore (reads the backup role's config)")
    bk.add_argument("--config", type=Path, default=Path("/etc/supermark-ops/backup.yml"))
    bk.add_argument("--json", action="store_true", help="print JSON instead of text")
    bk.add_argument("--log-file", type=Path, help="also log to this file")
    actions = bk.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("run", help="a backup now: database, documents, off-site, retention")
    actions.add_parser("drill", help="restore the newest backup into a scratch database and compare")
    actions.add_parser("list", help="the backups, here and off-site")
    rs = actions.add_parser("restore", help="stop the app, safety backup, restore, start, wait for health")
    rs.add_argument("--name", default="", help="the backup to restore (default: the newest complete one)")
    rs.add_argument("--from-offsite", action="store_true", help="fetch it from the off-site copy first")
    rs.add_argument("--identity", type=Path, help="age identity file, for an encrypted off-site copy")
    rs.add_argument("--yes", action="store_true", help="required: the current database is replaced")
    rs.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="restore a backup (named with --name) whose manifest is unsigned: one made before manifests "
        "were signed. Check it is yours first; a manifest that does not match its signature is always "
        "refused",
    )
    bk.set_defaults(handler=backup_command)


def backup_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    quiet = args.json or not err.is_terminal
    try:
        cfg = config.load(args.config, config.BackupConfig)
        if args.action == "list":
            return _list(listing(Setup.of(cfg)), args.json)
        if args.action == "restore" and not args.yes:
            raise BackupError("restore replaces the current database and documents: add --yes to go on.")
        with err.status(args.action, spinner="dots") if not quiet else nullcontext() as status:
            step = status.update if status is not None else results.no_progress
            if args.action == "run":
                result = run_backup(cfg, step)
            elif args.action == "drill":
                result = run_drill(cfg, step)
            else:
                result = run_restore(
                    cfg, args.name, args.from_offsite, args.identity, step, args.allow_unsigned
                )
    except OpsError as exc:
        if args.json:
            print(results.dumps(results.failed(str(exc))))
        else:
            err.print(f"[red]supermark-ops backup {args.action}:[/red] {exc}")
        return 2
    if args.json:
        print(results.dumps(result))
    elif result["ok"]:
        Console().print(f"{args.action}: ok", {k: v for k, v in result.items() if k not in ("ok", "reason")})
    else:
        err.print(f"[red]{args.action} FAILED:[/red] {result.get('reason')}")
    return 0 if result["ok"] else 1


def _list(rows: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(results.dumps(results.ok(backups=rows)))
        return 0
    table = Table(title="backups")
    for col in ("name", "where", "complete"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["name"], row["where"], "yes" if row["complete"] else "[red]no[/red]")
    Console().print(table)
    return 0
