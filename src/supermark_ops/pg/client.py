"""Where psql, pg_dump, pg_restore and pg_isready run, and the flags they run with.

    Client()                   on this machine (its PATH)
    Client(container=NAME)     inside the stack's Postgres container (docker exec): the programs
                               always match the server, and its local socket needs no password
    Client(image=IMAGE)        in a throwaway container of IMAGE on the host's network (docker run):
                               a client as new as a remote server when this machine's is older

Passwords and session settings travel in the environment (PGPASSWORD, PGOPTIONS, ...; for a
container, `-e NAME` passes each by name), never in argv.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from supermark_ops.pg import sql
from supermark_ops.pg.errors import PgError, explain
from supermark_ops.pg.urls import Endpoint

# psql: no ~/.psqlrc, no chatter, stop at the first error.
PSQL = ("-X", "-q", "-v", "ON_ERROR_STOP=1")
# ...and for rows read by a program: unaligned, no headers or footers; each row ends with a NUL
# byte (which no PostgreSQL text holds) and fields are split by the unit separator, so a tab or
# a newline in a value (a comment, a name) cannot break a row apart.
FIELD_SEP, ROW_END = "\x1f", "\0"
ROWS = ("-A", "-t", "-F", FIELD_SEP, "-0")
# Programs that could ask for a password: never (-w), so a missing one fails at once instead
# of waiting at a prompt on a terminal.
NO_PROMPT = frozenset({"psql", "pg_dump", "pg_restore"})


def split_rows(out: str) -> list[list[str]]:
    """psql's output with ROWS: one list of fields per row."""
    return [record.split(FIELD_SEP) for record in out.split(ROW_END)[:-1]]


# Session settings that make every server print rows the same way (for hashing).
TEXT_SETTINGS = "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c bytea_output=hex"
# A session that refuses any write (the migration's source; every dump).
READ_ONLY = "-c default_transaction_read_only=on"


def psql_args(endpoint: Endpoint, *commands: str, rows: bool = False) -> list[str]:
    """psql's arguments for the endpoint: each command a -c (none: a script on stdin)."""
    return [
        *PSQL,
        *(ROWS if rows else ()),
        "-d",
        endpoint.conninfo(),
        *(a for c in commands for a in ("-c", c)),
    ]


@dataclass(frozen=True)
class DumpInfo:
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Client:
    container: str = ""
    image: str = ""

    def describe(self) -> str:
        return (
            f"container {self.container}"
            if self.container
            else (f"image {self.image}" if self.image else "local")
        )

    def where(self, endpoint: Endpoint | None) -> str:
        label = endpoint.label() if endpoint else "the archive"
        return f"{label} (in container {self.container})" if self.container else label

    def env(self, program: str, endpoint: Endpoint | None, options: str = "") -> dict[str, str]:
        """The PG* variables the program gets: the password, session settings, a connect timeout."""
        if not self.container and not self.image and shutil.which(program) is None:
            raise PgError(
                f"{program} is not installed: apt-get install postgresql-client (or use a client image)."
            )
        if endpoint is None:
            return {}
        return {
            **endpoint.env(),
            "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10"),
            "PGOPTIONS": f"{TEXT_SETTINGS} {options}".strip(),
            "PGAPPNAME": "supermark-ops",
        }

    def argv(
        self, program: str, args: Sequence[str], env: Sequence[str] = (), mounts: Sequence[Path] = ()
    ) -> list[str]:
        """The command line; `env` names the variables a container must be handed (by name only)."""
        passed = [a for name in env for a in ("-e", name)]
        if program in NO_PROMPT and "--version" not in args:
            args = ["-w", *args]
        if self.container:
            return ["docker", "exec", "-i", *passed, self.container, program, *args]
        if self.image:
            volumes = [a for m in mounts for a in ("-v", f"{m}:{m}")]
            return [
                "docker", "run", "--rm", "-i", "--network", "host", *passed, *volumes,
                "--entrypoint", program, self.image, *args,
            ]  # fmt: skip
        return [program, *args]

    def popen(
        self,
        program: str,
        args: Sequence[str],
        endpoint: Endpoint | None,
        *,
        options: str = "",
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = None,
        stderr: int | IO[bytes] | None = None,
        mounts: Sequence[Path] = (),
    ) -> subprocess.Popen[bytes]:
        """The program started with binary pipes (streams, and sessions held open)."""
        env = self.env(program, endpoint, options)
        return subprocess.Popen(
            self.argv(program, args, list(env), mounts),
            env={**os.environ, **env},
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )

    def run(
        self,
        program: str,
        args: Sequence[str],
        endpoint: Endpoint | None,
        *,
        options: str = "",
        stdin: IO[bytes] | None = None,
        mounts: Sequence[Path] = (),
    ) -> str:
        """Run to the end; its output, or PgError saying what went wrong."""
        env = self.env(program, endpoint, options)
        result = subprocess.run(
            self.argv(program, args, list(env), mounts),
            env={**os.environ, **env},
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace")
            raise PgError(f"{program} failed: {explain(stderr, self.where(endpoint))}", detail=stderr)
        return result.stdout.decode(errors="replace")

    def query(self, endpoint: Endpoint, statement: str, *, read_only: bool = False) -> list[list[str]]:
        """The rows of a statement, as text fields."""
        out = self.run(
            "psql",
            psql_args(endpoint, statement, rows=True),
            endpoint,
            options=READ_ONLY if read_only else "",
        )
        return split_rows(out)

    def version(self, program: str) -> int:
        """The client's major version (pg_dump 16.4 -> 16)."""
        result = subprocess.run(
            self.argv(program, ["--version"]), capture_output=True, text=True, check=False
        )
        match = re.search(r"\) (\d+)", result.stdout)
        if result.returncode != 0 or not match:
            raise PgError(f"Could not run {program} --version ({self.describe()}): {result.stderr.strip()}")
        return int(match.group(1))

    def isready(self, endpoint: Endpoint, timeout: float) -> subprocess.CompletedProcess[str]:
        """pg_isready: exit 0 accepting, 1 rejecting, 2 no response, 3 bad parameters."""
        env = self.env("pg_isready", endpoint)
        args = ["-d", endpoint.conninfo(), "-t", str(max(1, int(timeout)))]
        return subprocess.run(
            self.argv("pg_isready", args, list(env)),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )

    def dump(self, endpoint: Endpoint, out: IO[bytes], args: Sequence[str] = ()) -> DumpInfo:
        """pg_dump -Fc of the database into `out` (a file on this machine, whichever client runs it),
        in a read-only session, with the size and sha256 of what was written."""
        digest, size = hashlib.sha256(), 0
        with tempfile.TemporaryFile() as err:
            proc = self.popen(
                "pg_dump",
                ["-Fc", *args, "-d", endpoint.conninfo()],
                endpoint,
                options=READ_ONLY,
                stdout=subprocess.PIPE,
                stderr=err,
            )
            assert proc.stdout is not None
            try:
                while chunk := proc.stdout.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            except BaseException:
                proc.kill()  # a write failed (disk full): stop pg_dump, keep the write's error
                proc.wait()
                raise
            finally:
                proc.stdout.close()
            if proc.wait() != 0:
                err.seek(0)
                raise PgError(
                    "pg_dump failed: " + explain(err.read().decode(errors="replace"), self.where(endpoint))
                )
        return DumpInfo(size, digest.hexdigest())

    def restore(
        self,
        endpoint: Endpoint,
        path: Path,
        args: Sequence[str] = (),
        jobs: int = 1,
        *,
        entries: Sequence[str] | None = None,
        options: str = "",
    ) -> None:
        """pg_restore of an archive on this machine into the (empty) database, stopping at the first
        error. In a container the archive comes on stdin (the container cannot see this machine's
        files), so one job; elsewhere `jobs` in parallel. `entries`: only these lines of the
        archive's table of contents (`listing`), through a list file beside the archive."""
        base = ["--no-owner", "--exit-on-error", *args, "-d", endpoint.conninfo()]
        with contextlib.ExitStack() as stack:
            if entries is not None:
                chosen = stack.enter_context(
                    tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".entries-", suffix=".list")
                )
                chosen.write("".join(f"{entry}\n" for entry in entries))
                chosen.flush()
                base = ["-L", chosen.name, *base]
            if self.container:
                if entries is not None:
                    raise PgError("pg_restore -L needs a client that sees this machine's files")
                with path.open("rb") as f:
                    self.run("pg_restore", base, endpoint, options=options, stdin=f)
            else:
                self.run(
                    "pg_restore",
                    [*base, "-j", str(jobs), str(path)],
                    endpoint,
                    options=options,
                    mounts=[path.parent],
                )

    def listing(self, path: Path) -> list[str]:
        """The archive's table of contents (pg_restore --list), one entry a line, comments left out."""
        with path.open("rb") as f:
            out = self.run("pg_restore", ["--list"], None, stdin=f)
        if "Archive created at" not in out:
            raise PgError(f"{path} is not a readable pg_dump archive")
        return [line for line in out.splitlines() if line and not line.startswith(";")]

    def check_archive(self, path: Path) -> None:
        """pg_restore --list reads the archive's table of contents: a torn or foreign file fails."""
        self.listing(path)

    def drop_database(self, endpoint: Endpoint, name: str) -> None:
        self.query(endpoint.on("postgres"), f"DROP DATABASE IF EXISTS {sql.ident(name)} WITH (FORCE)")

    def replace_database(self, endpoint: Endpoint, archive: Path) -> None:
        """The endpoint's database dropped (its sessions ended), created empty for its user, and
        the archive restored into it. The caller has checked the archive and kept what was there."""
        self.drop_database(endpoint, endpoint.dbname)
        self.query(
            endpoint.on("postgres"),
            f"CREATE DATABASE {sql.ident(endpoint.dbname)} OWNER {sql.ident(endpoint.user)}",
        )
        self.restore(endpoint, archive)

    def row_counts(self, endpoint: Endpoint) -> dict[str, int]:
        return {table: int(count) for table, count in self.query(endpoint, sql.ROW_COUNTS)}


def query_client(image: str = "") -> Client:
    """psql from this machine, or from the image when this machine has none (a droplet)."""
    if shutil.which("psql") or not image:
        return Client()
    return Client(image=image)
