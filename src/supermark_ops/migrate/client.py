"""The PostgreSQL client programs (psql, pg_dump, pg_restore), local or from an image.

pg_dump must be at least as new as the source server: the local client is
used when it is, else the client inside a container image (for example the
target's own postgres:16 image), run with the host's network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from supermark_ops.migrate.errors import MigrateError
from supermark_ops.migrate.urls import Endpoint

# Session settings that make both servers print rows the same way (for hashing)
# and, for the source, refuse any write.
_TEXT_SETTINGS = "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c bytea_output=hex"
READ_ONLY = "-c default_transaction_read_only=on"


def explain(stderr: str, endpoint: Endpoint) -> str:
    """A libpq error, said plainly, with what to check."""
    where = endpoint.label()
    text = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
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
    if "server version mismatch" in stderr or "aborting because of server version mismatch" in stderr:
        return f"{where}: the client is older than the server: {text}"
    return f"{where}: {text}"


@dataclass(frozen=True)
class Client:
    """Where the client programs come from: the local PATH or a container image."""

    image: str = ""

    def argv(self, program: str, args: Sequence[str], mounts: Sequence[Path] = ()) -> list[str]:
        if not self.image:
            return [program, *args]
        volumes = [a for m in mounts for a in ("-v", f"{m}:{m}")]
        return [
            "docker",
            "run",
            "--rm",
            "-i",
            "--network",
            "host",
            "-e",
            "PGPASSWORD",
            "-e",
            "PGOPTIONS",
            "-e",
            "PGCONNECT_TIMEOUT",
            *volumes,
            "--entrypoint",
            program,
            self.image,
            *args,
        ]

    def run(
        self,
        program: str,
        args: Sequence[str],
        endpoint: Endpoint,
        *,
        options: str = "",
        mounts: Sequence[Path] = (),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(program, args, mounts),
            env=self._env(program, endpoint, options),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(
        self,
        program: str,
        args: Sequence[str],
        endpoint: Endpoint,
        *,
        options: str = "",
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = None,
        stderr: IO[bytes],
    ) -> subprocess.Popen[bytes]:
        """The program started with binary pipes, for streaming one program's output into another."""
        return subprocess.Popen(
            self.argv(program, args),
            env=self._env(program, endpoint, options),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )

    def _env(self, program: str, endpoint: Endpoint, options: str) -> dict[str, str]:
        """The password and settings go in the environment, never in argv."""
        if not self.image and shutil.which(program) is None:
            raise MigrateError(
                f"{program} is not installed: apt-get install postgresql-client (or pass --client-image)."
            )
        return {
            **os.environ,
            **endpoint.env(),
            "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10"),
            "PGOPTIONS": f"{_TEXT_SETTINGS} {options}".strip(),
            "PGAPPNAME": "supermark-ops-migrate",
        }

    def query(self, endpoint: Endpoint, sql: str, *, read_only: bool = False) -> list[list[str]]:
        """Rows of a query, as text fields (tab-separated by psql)."""
        result = self.run(
            "psql",
            [
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                endpoint.conninfo(),
                "-c",
                sql,
            ],
            endpoint,
            options=READ_ONLY if read_only else "",
        )
        if result.returncode != 0:
            raise MigrateError(explain(result.stderr, endpoint))
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def version(self, program: str) -> int:
        """The client's major version (pg_dump 16.4 -> 16)."""
        result = subprocess.run(
            self.argv(program, ["--version"]), capture_output=True, text=True, check=False
        )
        match = re.search(r"\) (\d+)", result.stdout)
        if result.returncode != 0 or not match:
            raise MigrateError(
                f"Could not run {program} --version ({'image ' + self.image if self.image else 'local'}): "
                f"{result.stderr.strip()}"
            )
        return int(match.group(1))
