"""The schema rehearsal of the preflight: the source's schema dump restored into a scratch
database on the target server, which is then dropped. A statement the target cannot take (an
extension it lacks, a setting or a type of a newer server, a privilege its role lacks) is found
here, with the statement and its likely cause, before the target database is touched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from supermark_ops.migrate.errors import MigrateError
from supermark_ops.pg import Client, Endpoint, PgError, sql

# Scratch databases are named so; one left by a killed run is dropped by the next.
SCRATCH_PREFIX = "supermark_ops_rehearsal_"

# (what the server said, the likely cause). {0} is the pattern's first group; {dumper},
# {source} and {target} are the versions of pg_dump and of the two servers.
_CAUSES: list[tuple[str, str]] = [
    (
        r'extension "([^"]+)" is not available|extension control file "[^"]*/([^/"]+)\.control"',
        "the extension {0} is not installed on the target server (PostgreSQL {target}): install it "
        "there (a package, or an image that has it), or drop it at the source if the app does not use it",
    ),
    (
        r'unrecognized configuration parameter "([^"]+)"',
        "the setting {0} is unknown to the target server (PostgreSQL {target}): it comes from a newer "
        "server or pg_dump (here pg_dump {dumper}, source PostgreSQL {source}); use a target of the "
        "source's major version or newer",
    ),
    (
        r'type "([^"]+)" does not exist',
        "the type {0} does not exist on the target server (PostgreSQL {target}): an extension's type "
        "(install the extension) or a newer server's",
    ),
    (
        r"function (\S+) does not exist",
        "the function {0} does not exist on the target server (PostgreSQL {target}): an extension's "
        "function (install the extension) or a newer server's",
    ),
    (
        r"unsupported version \(([^)]+)\) in file header",
        "the archive (format {0}) was written by pg_dump {dumper}, newer than the pg_restore reading it: "
        "use a client at least as new (--client-image)",
    ),
    (
        r"(permission denied|must be owner|must be superuser)",
        "the target's role lacks a privilege this statement needs ({0}): run the migration as the "
        "database's owner, or create the object on the target first",
    ),
    (
        r"(syntax error)",
        "the target server (PostgreSQL {target}) does not understand a statement pg_dump {dumper} "
        "wrote for PostgreSQL {source}: a newer server's syntax",
    ),
]


def _versions(client: Client, schema: Path) -> tuple[str, str]:
    """The source server's and pg_dump's versions, from the archive's header."""
    with schema.open("rb") as f:
        listing = client.run("pg_restore", ["--list"], None, stdin=f)
    source = re.search(r"Dumped from database version: (\S+)", listing)
    dumper = re.search(r"Dumped by pg_dump version: (\S+)", listing)
    return (source[1] if source else "?"), (dumper[1] if dumper else "?")


def refusal(detail: str, where: str, source: str, dumper: str, target: str) -> str:
    """The operator's message for a failed rehearsal: the statement, the error, the likely cause."""
    statement = ""
    if "Command was:" in detail:
        statement = re.split(r"\npg_restore:", detail.split("Command was:", 1)[1])[0].strip()
    errors = re.findall(r"ERROR:\s+(.*)", detail)
    error = errors[0].strip() if errors else (detail.strip().splitlines() or ["no error output"])[-1]
    toc = re.search(r"from TOC entry [^\n]*", detail)
    cause = "see the error; the versions above are the usual suspects"
    for pattern, text in _CAUSES:
        match = re.search(pattern, detail)
        if match:
            found = next((g for g in match.groups() if g), match[0])
            cause = text.format(found, dumper=dumper, source=source, target=target)
            break
    lines = [
        f"The schema rehearsal failed: PostgreSQL {target} at {where} refused a statement of the "
        f"source's schema (dumped by pg_dump {dumper} from PostgreSQL {source}).",
        f"  statement: {statement or '(none: the archive could not be read)'}",
        f"  error: {error}" + (f" ({toc[0]})" if toc else ""),
        f"  likely cause: {cause}",
        "The target database was not touched: the rehearsal ran in a scratch database, now dropped.",
    ]
    return "\n".join(lines)


def rehearse(client: Client, target: Endpoint, schema: Path, queries: Client | None = None) -> None:
    """Restore the whole schema (no data) into a scratch database beside the target database,
    then drop it. MigrateError with the failing statement and its likely cause. `queries` runs
    the plain statements (a local psql is quicker than a client container)."""
    queries = queries or client
    stale = queries.query(
        target, f"SELECT datname FROM pg_database WHERE datname LIKE {sql.literal(SCRATCH_PREFIX + '%')}"
    )
    for (name,) in stale:
        queries.query(target, f"DROP DATABASE IF EXISTS {sql.ident(name)}")
    scratch = f"{SCRATCH_PREFIX}{os.getpid()}"
    try:
        queries.query(target, f"CREATE DATABASE {sql.ident(scratch)}")
    except PgError as exc:
        raise MigrateError(
            f"The schema rehearsal needs a scratch database on the target server, and {target.user} may "
            f"not create one: grant it CREATEDB (ALTER ROLE {sql.ident(target.user)} CREATEDB). {exc}"
        ) from None
    try:
        client.restore(target.on(scratch), schema, ["--no-acl"])
    except PgError as exc:
        source, dumper = _versions(client, schema)
        version = queries.query(target, "SELECT current_setting('server_version')")[0][0].split()[0]
        raise MigrateError(refusal(exc.detail or str(exc), target.label(), source, dumper, version)) from None
    finally:
        queries.query(target, f"DROP DATABASE IF EXISTS {sql.ident(scratch)}")
