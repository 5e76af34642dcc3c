"""PostgreSQL, one way: every psql, pg_dump, pg_restore and pg_isready the tools run goes
through `Client` (on this machine, inside the stack's container, or in a client container of
a given image), with passwords in the environment, never in argv.

    urls.py      connection URLs (Vercel, Neon, Prisma forms) -> Endpoint (libpq settings)
    client.py    Client: where the programs run, their flags, dump / restore / query / isready
    snapshot.py  Snapshot: one exported snapshot, held open, for consistent reads across sessions
    sql.py       quoting, and the catalog queries (tables, row counts, sequences, sizes, hashes)
    errors.py    PgError, and libpq's and docker's errors said plainly
    cli.py       `supermark-ops pg dump|restore|query` (what the roles call on the host)
"""

from supermark_ops.pg import sql
from supermark_ops.pg.client import Client, DumpInfo
from supermark_ops.pg.errors import PgError
from supermark_ops.pg.snapshot import Snapshot
from supermark_ops.pg.urls import Endpoint, parse, socket_endpoint

__all__ = ["Client", "DumpInfo", "Endpoint", "PgError", "Snapshot", "parse", "socket_endpoint", "sql"]
