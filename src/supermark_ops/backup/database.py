"""The stack's Postgres, reached through its own container (`docker exec`).

The client programs inside the container always match the server's version,
and the container's local socket needs no password, so none is handled here.
Row counts are taken in the same snapshot the dump reads (an exported
snapshot held open by a psql session), so a drill can compare them exactly
even while the app keeps writing.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from supermark_ops.backup.errors import BackupError
from supermark_ops.sqltext import ident

# One statement: every ordinary and partitioned table's exact row count.
COUNTS_SQL = (
    "SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1"
)


_PSQL = ("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1")


@dataclass(frozen=True)
class DumpInfo:
    size: int
    sha256: str
    server_version: str
    tables: dict[str, int]


@dataclass(frozen=True)
class Database:
    container: str
    user: str
    database: str

    def argv(self, program: str, args: Sequence[str], stdin: bool = False) -> list[str]:
        return ["docker", "exec", *(["-i"] if stdin else []), self.container, program, *args]

    def _run(self, program: str, args: Sequence[str], stdin: IO[bytes] | None = None) -> str:
        result = subprocess.run(
            self.argv(program, args, stdin is not None),
            stdin=stdin,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"{program} in {self.container} failed: {self._explain(result.stderr)}")
        return result.stdout.decode()

    def _explain(self, stderr: bytes) -> str:
        text = stderr.decode(errors="replace").strip()
        if "No such container" in text or "is not running" in text:
            return f"{text} (is the stack running? `docker ps` lists the containers)"
        return text.splitlines()[-1] if text else "no error output"

    def sql(self, sql: str, database: str = "") -> list[list[str]]:
        out = self._run(
            "psql",
            [*_PSQL, "-F", "\t", "-U", self.user, "-d", database or self.database, "-c", sql],
        )
        return [line.split("\t") for line in out.splitlines() if line]

    def counts(self, database: str = "") -> dict[str, int]:
        return {table: int(count) for table, count in self.sql(COUNTS_SQL, database)}

    def dump(self, out: IO[bytes], compress: int) -> DumpInfo:
        """pg_dump -Fc of the database into `out`, with the row counts of the same snapshot."""
        session = subprocess.Popen(
            self.argv(
                "psql",
                ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", self.user, "-d", self.database],
                True,
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert session.stdin is not None and session.stdout is not None
        try:
            session.stdin.write(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
                "SELECT current_setting('server_version') || E'\\t' || pg_export_snapshot();\n"
            )
            session.stdin.flush()
            first = session.stdout.readline().strip()
            if "\t" not in first:
                session.kill()
                err = session.communicate()[1].encode()
                raise BackupError(f"Could not open a snapshot in {self.container}: {self._explain(err)}")
            version, snapshot = first.split("\t")
            # The counts in the same transaction: the same snapshot the dump reads.
            session.stdin.write(COUNTS_SQL.replace("\n", " ") + ";\n\\echo END-OF-COUNTS\n")
            session.stdin.flush()
            tables: dict[str, int] = {}
            for line in session.stdout:
                if line.strip() == "END-OF-COUNTS":
                    break
                if line.strip():
                    table, count = line.rstrip("\n").rsplit("|", 1)
                    tables[table] = int(count)
            else:
                err = session.communicate()[1].encode()
                raise BackupError(f"Counting rows in {self.container} failed: {self._explain(err)}")
            digest, size = hashlib.sha256(), 0
            dump = subprocess.Popen(
                self.argv(
                    "pg_dump",
                    [
                        "-Fc",
                        "-Z",
                        str(compress),
                        f"--snapshot={snapshot}",
                        "-U",
                        self.user,
                        "-d",
                        self.database,
                    ],
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert dump.stdout is not None and dump.stderr is not None
            try:
                while chunk := dump.stdout.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            finally:
                dump.stdout.close()  # after a write error (disk full), pg_dump stops on the broken pipe
            err = dump.stderr.read()
            if dump.wait() != 0:
                raise BackupError(f"pg_dump in {self.container} failed: {self._explain(err)}")
            session.stdin.write("COMMIT;\n")
            session.stdin.close()
            session.wait(timeout=60)
        finally:
            if session.poll() is None:
                session.kill()
                session.wait()
        return DumpInfo(size, digest.hexdigest(), version, tables)

    def check_archive(self, path: Path) -> None:
        """pg_restore --list reads the archive's table of contents: a torn or foreign file fails."""
        with path.open("rb") as f:
            out = self._run("pg_restore", ["--list"], stdin=f)
        if "Archive created at" not in out:
            raise BackupError(f"{path} is not a readable pg_dump archive")

    def recreate(self, database: str) -> None:
        """Drop (if there) and create an empty database owned by our user."""
        self.drop(database)
        self.sql(f"CREATE DATABASE {ident(database)} OWNER {ident(self.user)}", "postgres")

    def drop(self, database: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {ident(database)} WITH (FORCE)", "postgres")

    def restore(self, path: Path, database: str) -> None:
        """The archive into an (empty) database, stopping at the first error."""
        with path.open("rb") as f:
            self._run(
                "pg_restore",
                ["--exit-on-error", "--no-owner", "-U", self.user, "-d", database],
                stdin=f,
            )
