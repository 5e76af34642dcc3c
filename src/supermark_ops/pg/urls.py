"""Connection settings: URLs as Vercel, Neon and Prisma write them, turned into libpq settings.

Passwords stay out of argv: `Endpoint.env()` hands them to the client programs through
PGPASSWORD, and `Endpoint.conninfo()` (for argv and logs) never contains one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, unquote, urlsplit

from supermark_ops.pg.errors import PgError

# Prisma's and PgBouncer's own parameters: libpq does not know them.
_NOT_LIBPQ = {
    "pgbouncer",
    "connection_limit",
    "pool_timeout",
    "schema",
    "statement_cache_size",
    "socket_timeout",
}
_SSL_STRONG = {"require", "verify-ca", "verify-full"}


@dataclass(frozen=True)
class Endpoint:
    """A database to connect to. An empty host is the server's local socket (inside the stack's
    container, where it needs no password)."""

    user: str
    dbname: str
    host: str = ""
    port: int = 5432
    password: str = field(default="", repr=False)
    params: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def conninfo(self) -> str:
        """A libpq connection string without the password (safe for argv and logs)."""
        parts = [f"host={_q(self.host)}", f"port={self.port}"] if self.host else []
        parts += [f"user={_q(self.user)}", f"dbname={_q(self.dbname)}"]
        parts += [f"{k}={_q(v)}" for k, v in self.params]
        return " ".join(parts)

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password} if self.password else {}

    def label(self) -> str:
        return (
            f"{self.user}@{self.host}:{self.port}/{self.dbname}"
            if self.host
            else f"{self.user}@/{self.dbname}"
        )

    def on(self, dbname: str) -> Endpoint:
        """The same server and role, another database."""
        return replace(self, dbname=dbname)

    @property
    def sslmode(self) -> str:
        return dict(self.params).get("sslmode", "prefer")


def socket_endpoint(user: str, dbname: str, host: str = "", port: int = 5432) -> Endpoint:
    """A database on the server's own socket (host empty) or at a socket folder / host name."""
    return Endpoint(user=user, dbname=dbname, host=host, port=port)


def _q(value: str) -> str:
    if value and all(c.isalnum() or c in "-._/" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# The libpq parameters a URL may carry: how to reach the server safely, and a label. Anything
# else is refused with its reason (below): a parameter goes into the connection string, which is
# in argv and can override what the tools set (the read-only session, the settings the row
# hashes depend on, the direct host instead of the pooled one).
ALLOWED = ("sslmode", "sslrootcert", "connect_timeout", "application_name", "channel_binding")
_REFUSED = {
    "password": "a password there would reach the programs' argv: put it in the URL before the @ "
    "(percent-encoded), where it is handed over in the environment",
    "passfile": "a password file is not read: put the password in the URL before the @",
    "options": "it would override the read-only session and the settings the row hashes depend on",
    "host": "it would undo the switch from a pooled host to its direct host: put the host in the URL",
    "hostaddr": "it would undo the switch from a pooled host to its direct host: put the host in the URL",
    "port": "put the port in the URL (host:port)",
    "dbname": "put the database at the end of the URL's path",
    "user": "put the user in the URL before the password",
    "service": "a service file could change any setting: put the settings in the URL",
    "target_session_attrs": "the tools choose their own session",
}
_ENCODE = "percent-encode them in the password: / is %2F, @ is %40, # is %23, ? is %3F"


def parse(url: str, *, what: str, require_ssl: bool = False) -> Endpoint:
    """Parse a postgres:// or postgresql:// URL; `what` names it in errors (source/target).

    A pooled Vercel/Neon host (`-pooler` in its first label) is switched to its direct host:
    pg_dump needs a session, which PgBouncer in transaction mode does not give.
    `pgbouncer=true` on any other host is refused: there is no direct host to guess.
    No error quotes the URL or a piece of it (it holds the password): each names the rule.
    """
    if not url:
        raise PgError(f"No {what} URL given.")
    if "\0" in url or "%00" in url:
        raise PgError(f"The {what} URL holds a NUL byte (or %00): no PostgreSQL setting can.")
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
        hostname = parts.hostname
    except ValueError:
        # urllib's own message would quote the part it read as a port: often a piece of the password.
        raise PgError(
            f"The {what} URL does not parse: its port is not a number, or its password holds one of / @ # ? "
            f"unencoded; {_ENCODE}."
        ) from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise PgError(
            f"The {what} URL must start with postgres:// or postgresql://, not {parts.scheme or '(nothing)'}://."
        )
    if parts.fragment or "#" in url:
        raise PgError(f"The {what} URL holds a #: if its password does, {_ENCODE}.")
    if not hostname:
        raise PgError(f"The {what} URL has no host.")
    if "@" in parts.path or "@" in parts.query:
        raise PgError(f"The {what} URL has an @ after its host: if its password holds / or ?, {_ENCODE}.")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise PgError(f"The {what} URL names no database (postgres://user:pw@host/DATABASE).")
    if not parts.username:
        raise PgError(f"The {what} URL names no user (postgres://USER:pw@host/db).")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name in query:
        if name in _NOT_LIBPQ or name in ALLOWED:
            continue
        named = name if re.fullmatch(r"[a-z_]{1,40}", name) else "a parameter"
        raise PgError(
            f"The {what} URL sets {named} (?{named}=...), which is refused: "
            + _REFUSED.get(name, f"only {', '.join(ALLOWED)} are passed on")
            + "."
        )
    notes: list[str] = []
    host = hostname
    first, _, rest = host.partition(".")
    if first.endswith("-pooler"):
        host = first[: -len("-pooler")] + ("." + rest if rest else "")
        notes.append(f"pooled host {hostname} switched to its direct host {host}")
    elif query.get("pgbouncer", "").lower() == "true":
        raise PgError(
            f"The {what} URL is a pooled one (pgbouncer=true) but its host {host} has no -pooler part to "
            "remove: use the direct (non-pooling) URL, e.g. POSTGRES_URL_NON_POOLING from Vercel."
        )
    params = {k: v for k, v in query.items() if k not in _NOT_LIBPQ}
    if require_ssl:
        mode = params.get("sslmode")
        if mode is None:
            params["sslmode"] = "require"
            notes.append("sslmode=require added (Vercel and Neon require SSL)")
        elif mode not in _SSL_STRONG:
            raise PgError(
                f"The {what} URL has sslmode={mode}; the source is reached over the internet and must "
                "use SSL: use sslmode=require (or verify-full)."
            )
    return Endpoint(
        user=unquote(parts.username),
        dbname=dbname,
        host=host,
        port=port,
        password=unquote(parts.password or ""),
        params=tuple(sorted(params.items())),
        notes=tuple(notes),
    )
