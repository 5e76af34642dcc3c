"""Connection settings: URLs as Vercel, Neon and Prisma write them, turned into libpq settings.

Passwords stay out of argv: `Endpoint.env()` hands them to the client programs through
PGPASSWORD, and `Endpoint.conninfo()` (for argv and logs) never contains one.
"""

from __future__ import annotations

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


def parse(url: str, *, what: str, require_ssl: bool = False) -> Endpoint:
    """Parse a postgres:// or postgresql:// URL; `what` names it in errors (source/target).

    A pooled Vercel/Neon host (`-pooler` in its first label) is switched to its direct host:
    pg_dump needs a session, which PgBouncer in transaction mode does not give.
    `pgbouncer=true` on any other host is refused: there is no direct host to guess.
    """
    if not url:
        raise PgError(f"No {what} URL given.")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise PgError(
            f"The {what} URL must start with postgres:// or postgresql://, not {parts.scheme or '(nothing)'}://."
        )
    if not parts.hostname:
        raise PgError(f"The {what} URL has no host.")
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise PgError(f"The {what} URL has a bad port: {exc}.") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise PgError(f"The {what} URL names no database (postgres://user:pw@host/DATABASE).")
    if not parts.username:
        raise PgError(f"The {what} URL names no user (postgres://USER:pw@host/db).")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    notes: list[str] = []
    host = parts.hostname
    first, _, rest = host.partition(".")
    if first.endswith("-pooler"):
        host = first[: -len("-pooler")] + ("." + rest if rest else "")
        notes.append(f"pooled host {parts.hostname} switched to its direct host {host}")
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
