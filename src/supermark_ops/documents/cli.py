"""`supermark-ops migrate documents`: progress and a report at a terminal, JSON for machines.

Secrets come from the environment only (never argv): SUPERMARK_MIGRATE_TARGET_URL (may be given
as --target too, like `migrate`'s), SUPERMARK_DOCUMENTS_ACCESS_KEY / _SECRET_KEY (the stack's
bucket), SUPERMARK_BLOB_READ_WRITE_TOKEN (a private Blob store), SUPERMARK_SOURCE_S3_ACCESS_KEY /
_SECRET_KEY (the old deployment's S3/R2 bucket).
"""

from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from supermark_ops import results
from supermark_ops.documents.blob import DEFAULT_HOSTS
from supermark_ops.documents.run import Obj, Plan, configure, move
from supermark_ops.errors import OpsError


def add_parser(migrate: argparse.ArgumentParser) -> None:
    """`documents` as an action of `migrate` (whose own flags stay as they are)."""
    actions = migrate.add_subparsers(dest="migrate_action", metavar="ACTION")
    doc = actions.add_parser(
        "documents",
        help="copy the stored files the database refers to into the stack's bucket, then rewrite the rows",
        description="Run after the database has moved. Copies every file a row refers to (Vercel Blob, "
        "or the old S3/R2 bucket) into the stack's bucket under the app's key layout, checks each "
        "one there (size and sha256 read back), then points the rows at it. A re-run copies only "
        "what is missing or differs.",
        epilog="Secrets come from the environment, never argv: SUPERMARK_MIGRATE_TARGET_URL (the stack's "
        "database), SUPERMARK_DOCUMENTS_ACCESS_KEY and SUPERMARK_DOCUMENTS_SECRET_KEY (the stack's bucket), "
        "SUPERMARK_BLOB_READ_WRITE_TOKEN (a private Blob store), SUPERMARK_SOURCE_S3_ACCESS_KEY and "
        "SUPERMARK_SOURCE_S3_SECRET_KEY (the old bucket). See docs/migration.md.",
    )
    env = os.environ.get
    doc.add_argument("--target", default=env("SUPERMARK_MIGRATE_TARGET_URL", ""), help=argparse.SUPPRESS)
    doc.add_argument("--client-image", default="", help="run psql from this image when there is none here")
    doc.add_argument(
        "--bucket-endpoint", required=True, help="the stack's S3 endpoint, e.g. https://files.<domain>"
    )
    doc.add_argument("--bucket", required=True, help="the stack's bucket")
    doc.add_argument("--bucket-region", default="us-east-1")
    doc.add_argument(
        "--files-url",
        default="",
        help="the base of image URLs the app writes (default <bucket-endpoint>/<bucket>, as the app does)",
    )
    doc.add_argument(
        "--blob-host",
        action="append",
        default=[],
        help=f"a host[:port] pattern of the Blob store's URLs (repeatable; default {DEFAULT_HOSTS[0]})",
    )
    doc.add_argument("--source-s3-endpoint", default="", help="the old deployment's S3/R2 endpoint")
    doc.add_argument("--source-s3-bucket", default="", help="the old deployment's bucket")
    doc.add_argument("--source-s3-region", default="auto", help="its region (R2: auto)")
    doc.add_argument(
        "--source-s3-public-url",
        action="append",
        default=[],
        help="a public URL prefix of the old bucket that images were linked from (repeatable)",
    )
    doc.add_argument("--jobs", type=int, default=4, help="objects in flight at once (default 4)")
    doc.add_argument("--batch", type=int, default=100, help="rows rewritten per transaction (default 100)")
    doc.add_argument(
        "--dry-run", action="store_true", help="list what would move and its size; change nothing"
    )
    doc.add_argument(
        "--allow-missing",
        action="store_true",
        help="succeed even when objects are gone from their source (still listed; their rows are left)",
    )
    doc.add_argument(
        "--workdir", type=Path, default=Path("/var/lib/supermark-ops/migrate"), help="where copies are staged"
    )
    doc.add_argument("--ca-file", default="", help="a CA bundle to trust for HTTPS (a private CA)")
    doc.add_argument("--json", action="store_true", help="print the JSON summary instead of the report")
    doc.set_defaults(handler=documents_command)


def _report(result: dict[str, Any], console: Console) -> None:
    objects, size = result["objects"], result["bytes"]
    table = Table(title="documents" + (" (dry run)" if result["dry_run"] else ""))
    for col in ("objects", "count"):
        table.add_column(col)
    for state in ("referenced", "copied", "present", "would-copy", "missing", "failed"):
        table.add_row(state, str(objects[state]))
    table.add_row("bytes copied", f"{size['copied']:,}")
    if result["dry_run"]:
        table.add_row("bytes to copy", f"{size['would_copy']:,}")
    table.add_row("rows rewritten", f"{result['rows']['rewritten']} of {result['rows']['to_rewrite']}")
    console.print(table)
    for entry in result.get("would_move", [])[:50]:
        console.print(
            f"would copy {entry['source']} -> {entry['key']} ({entry['size']:,} bytes)", highlight=False
        )
    for name in ("missing", "errors", "unmovable", "changed_meanwhile"):
        for entry in result[name]:
            where = f"{entry['table']} {entry['id']} {entry.get('column', '')} {entry.get('url', '')}"
            console.print(f"[red]{name}:[/red] {where} {entry.get('reason', '')}", highlight=False)
    for host, count in result["foreign_urls"].items():
        console.print(f"left as they are: {count} references to {host} (not a source given)", highlight=False)
    console.print("ok" if result["ok"] else f"[red]NOT ok:[/red] {result['reason']}", highlight=False)


def documents_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    quiet = args.json or not err.is_terminal  # progress only for a person at a terminal
    env = os.environ.get
    try:
        settings = configure(
            target_url=args.target,
            client_image=args.client_image,
            bucket_endpoint=args.bucket_endpoint,
            bucket_name=args.bucket,
            bucket_region=args.bucket_region,
            access_key=env("SUPERMARK_DOCUMENTS_ACCESS_KEY", ""),
            secret_key=env("SUPERMARK_DOCUMENTS_SECRET_KEY", ""),
            files_url=args.files_url,
            blob_hosts=tuple(args.blob_host),
            blob_token=env("SUPERMARK_BLOB_READ_WRITE_TOKEN", ""),
            source_endpoint=args.source_s3_endpoint,
            source_bucket=args.source_s3_bucket,
            source_region=args.source_s3_region,
            source_access_key=env("SUPERMARK_SOURCE_S3_ACCESS_KEY", ""),
            source_secret_key=env("SUPERMARK_SOURCE_S3_SECRET_KEY", ""),
            source_urls=tuple(args.source_s3_public_url),
            workdir=args.workdir,
            jobs=args.jobs,
            batch=args.batch,
            allow_missing=args.allow_missing,
            ca_file=args.ca_file,
        )
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[bytes]:,} bytes"),
            TimeElapsedColumn(),
            console=err,
        )
        with nullcontext() if quiet else bar:
            task = bar.add_task("objects", total=None, bytes=0)

            def on_plan(plan: Plan) -> None:
                bar.update(task, total=len(plan.objects))

            def on_object(obj: Obj) -> None:
                moved = obj.size if obj.state in ("copied", "would-copy") else 0
                bar.update(task, advance=1, bytes=bar.tasks[0].fields["bytes"] + moved)

            def phase(name: str) -> None:
                if not quiet:
                    err.log(f"[bold]{name}[/bold]")

            summary = move(settings, dry_run=args.dry_run, phase=phase, on_object=on_object, on_plan=on_plan)
        result = summary.as_dict()
    except OpsError as exc:
        if args.json:
            print(results.dumps(results.failed(str(exc))))
        else:
            err.print(f"[red]supermark-ops migrate documents:[/red] {exc}")
        return 2
    if args.json:
        print(results.dumps(result))
    else:
        _report(result, Console())
    return 0 if result["ok"] else 1
