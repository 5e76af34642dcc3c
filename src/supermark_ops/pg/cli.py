"""`supermark-ops pg dump|restore|query`: the stack's database from the host, for the roles'
tasks (the supermark role's pre-upgrade dump, its rollback restore, its migrations check).

    supermark-ops pg --container supermark-postgres-1 --user supermark --database supermark dump FILE
    ... restore --yes FILE     replace the database with the archive (the caller dumped it first)
    ... query SQL              rows, tab-separated, one per line (as psql -At prints them)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from supermark_ops import files, results
from supermark_ops.errors import OpsError
from supermark_ops.pg.client import Client
from supermark_ops.pg.urls import socket_endpoint


def add_parser(sub: Any) -> None:
    pg = sub.add_parser("pg", help="dump, restore or query the stack's database (what the roles run)")
    pg.add_argument(
        "--container", default="", help="the Postgres container (docker exec); empty: this machine"
    )
    pg.add_argument("--user", required=True)
    pg.add_argument("--database", required=True)
    actions = pg.add_subparsers(dest="action", metavar="ACTION", required=True)
    dump = actions.add_parser("dump", help="pg_dump -Fc into FILE (written whole or not at all)")
    dump.add_argument("file", type=Path)
    restore = actions.add_parser("restore", help="replace the database with the archive in FILE")
    restore.add_argument("file", type=Path)
    restore.add_argument("--yes", action="store_true", help="required: the database is replaced")
    query = actions.add_parser("query", help="print the rows of one SQL statement")
    query.add_argument("statement")
    pg.set_defaults(handler=pg_command)


def pg_command(args: argparse.Namespace) -> int:
    client, endpoint = Client(container=args.container), socket_endpoint(args.user, args.database)
    try:
        if args.action == "query":
            for row in client.query(endpoint, args.statement):
                print("\t".join(row))
            return 0
        if args.action == "dump":
            with files.atomic_write(args.file) as out:
                info = client.dump(endpoint, out)
                out.flush()
                client.check_archive(Path(out.name))
            result = results.ok(file=str(args.file), size=info.size, sha256=info.sha256)
        else:
            if not args.yes:
                raise OpsError(f"restore replaces the database {args.database}: add --yes to go on.")
            client.check_archive(args.file)
            client.replace_database(endpoint, args.file)
            result = results.ok(restored=str(args.file), database=args.database)
    except (OpsError, OSError) as exc:
        print(results.dumps(results.failed(str(exc))))
        print(f"supermark-ops pg {args.action}: {exc}", file=sys.stderr)
        return 2
    print(results.dumps(result))
    return 0
