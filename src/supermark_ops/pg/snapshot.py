"""One exported snapshot, held open: every session that sets it sees exactly the same data.

A read-only REPEATABLE READ session runs in psql and stays open; `pg_dump --snapshot=ID` and
`SET TRANSACTION SNAPSHOT 'ID'` in other sessions read exactly what it reads, and queries in
the session itself (`Snapshot.query`) too. A backup counts rows in the snapshot its dump reads;
the migration copies tables in parallel from one snapshot.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import threading
from types import TracebackType

from supermark_ops.pg import sql
from supermark_ops.pg.client import READ_ONLY, Client, psql_args, split_rows
from supermark_ops.pg.errors import PgError, explain
from supermark_ops.pg.urls import Endpoint


class Snapshot:
    def __init__(self, client: Client, endpoint: Endpoint) -> None:
        self._where = client.where(endpoint)
        self._end = f"-- end of rows {secrets.token_hex(8)} --"
        self._turn = threading.Lock()  # one statement at a time in the session (the migration's
        # verification reads it from a thread of its own)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the session; close()
        self._proc = client.popen(
            "psql",
            psql_args(endpoint, rows=True),
            endpoint,
            options=READ_ONLY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        try:
            self.id, self.server_version = self.query(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                "SELECT pg_export_snapshot(), current_setting('server_version')"
            )[0]
        except BaseException:
            self.close()
            raise

    def dump_args(self) -> list[str]:
        """pg_dump's arguments that make it read this snapshot."""
        return [f"--snapshot={self.id}"]

    def join(self) -> str:
        """The statements that make another session read this snapshot (read-only)."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        return f"{begin}; SET TRANSACTION SNAPSHOT {sql.literal(self.id)}"

    def query(self, statement: str) -> list[list[str]]:
        """Rows of a statement (one line of SQL) run inside the snapshot."""
        with self._turn:
            return self._query(statement)

    def _query(self, statement: str) -> list[list[str]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(f"{statement};\n\\echo '{self._end}'\n".encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # psql has stopped: its error is read below
        # Rows end with a NUL byte (client.ROWS); the marker follows the last one.
        end = f"{self._end}\n".encode()
        out = b""
        while not (out.endswith(end) and (len(out) == len(end) or out[-len(end) - 1] == 0)):
            chunk = os.read(self._proc.stdout.fileno(), 1 << 16)  # what is there, not a full block
            if not chunk:
                self._proc.wait()
                self._err.seek(0)
                raise PgError(
                    "psql failed: " + explain(self._err.read().decode(errors="replace"), self._where)
                )
            out += chunk
        return split_rows(out[: -len(end)].decode())

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(b"COMMIT;\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._err.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
