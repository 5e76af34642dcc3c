"""PgError, and the errors of libpq (and of docker, for a client in a container) said plainly."""

from __future__ import annotations

import re

from supermark_ops.errors import OpsError


class PgError(OpsError):
    """A PostgreSQL client program failed; the message says where, why, and what to check.
    `detail` keeps the program's whole error output (the message has its last line)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def explain(stderr: str, where: str) -> str:
    """One line: where it happened, what went wrong in plain words, and libpq's own last line."""
    text = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
    if "No such container" in stderr or "is not running" in stderr:
        return f"{where}: {text} (is the stack running? `docker ps` lists the containers)"
    if "password authentication failed" in stderr or "no password supplied" in stderr:
        return f"{where}: the password was refused; check the password in the URL ({text})"
    if re.search(r"database \".*\" does not exist", stderr):
        return (
            f"{where}: that database does not exist; check the database name at the end of the URL ({text})"
        )
    if "could not translate host name" in stderr or "Name or service not known" in stderr:
        return f"{where}: the host name does not resolve; check the host in the URL ({text})"
    if "Connection refused" in stderr or "timeout expired" in stderr or "No route to host" in stderr:
        return f"{where}: nothing answers; check the host and port, and that a firewall lets you in ({text})"
    if "SSL" in stderr and ("not support" in stderr or "required" in stderr or "off" in stderr):
        return f"{where}: an SSL problem: {text}"
    if "server version mismatch" in stderr:
        return f"{where}: the client is older than the server: {text}"
    return f"{where}: {text}"
