"""The pg layer's command lines and messages (no server needed): passwords never in argv,
the session settings handed to containers by name, libpq's errors said plainly."""

from __future__ import annotations

import pytest

from supermark_ops.pg import Client, PgError, parse, sql
from supermark_ops.pg.client import psql_args, split_rows
from supermark_ops.pg.errors import explain

SECRET = "p@ss/w:rd"
URL = "postgres://default:p%40ss%2Fw%3Ard@ep-x-pooler.us-east-1.aws.neon.tech/verceldb"


@pytest.mark.parametrize(
    "client", [Client(), Client(container="supermark-postgres-1"), Client(image="postgres:16")], ids=str
)
def test_the_password_travels_in_the_environment_only(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _p: "/usr/bin/psql")
    endpoint = parse(URL, what="source", require_ssl=True)
    env = client.env("psql", endpoint)
    argv = client.argv("psql", psql_args(endpoint, "SELECT 1", rows=True), list(env))
    assert env["PGPASSWORD"] == SECRET and SECRET not in " ".join(argv) and "p%40ss" not in " ".join(argv)
    assert "host=ep-x.us-east-1.aws.neon.tech" in " ".join(argv)  # the pooler switched to the direct host
    assert argv[argv.index("-d") + 1].endswith("sslmode=require")
    if client.container or client.image:
        names = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
        assert sorted(names) == ["PGAPPNAME", "PGCONNECT_TIMEOUT", "PGOPTIONS", "PGPASSWORD"]


def test_psql_always_gets_the_same_flags() -> None:
    endpoint = parse("postgres://u:p@h/db", what="target")
    assert psql_args(endpoint, "SELECT 1", rows=True)[:9] == [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-A",
        "-t",
        "-F",
        "\x1f",
        "-0",
    ]


@pytest.mark.parametrize(
    "client", [Client(), Client(container="supermark-postgres-1"), Client(image="postgres:16")], ids=str
)
def test_no_client_program_ever_asks_for_a_password(client: Client) -> None:
    """-w everywhere a program could prompt: a missing password fails at once, never waits."""
    for program in ("psql", "pg_dump", "pg_restore"):
        argv = client.argv(program, ["-d", "dbname=x"])
        assert argv[-3:] == ["-w", "-d", "dbname=x"] and program in argv, argv
    assert "-w" not in client.argv("pg_dump", ["--version"])  # not a connection


def test_rows_survive_tabs_and_newlines_in_values() -> None:
    assert split_rows("a\x1fline1\nline2\0b\x1fx\ty\0") == [["a", "line1\nline2"], ["b", "x\ty"]]
    assert split_rows("") == []


def test_a_missing_local_client_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _p: None)
    with pytest.raises(PgError, match="apt-get install postgresql-client"):
        Client().env("pg_dump", parse("postgres://u:p@h/db", what="target"))


@pytest.mark.parametrize(
    ("stderr", "says"),
    [
        ('FATAL:  password authentication failed for user "u"', "the password was refused"),
        ('FATAL:  database "nodb" does not exist', "that database does not exist"),
        ('could not translate host name "x" to address', "the host name does not resolve"),
        ("connection to server failed: Connection refused", "nothing answers"),
        ("Error response from daemon: No such container: supermark-postgres-1", "is the stack running?"),
    ],
)
def test_errors_are_said_plainly(stderr: str, says: str) -> None:
    assert says in explain(stderr, "u@h:5432/db")


def test_quoting_and_the_one_catalog_filter() -> None:
    assert sql.ident('my "odd" name') == '"my ""odd"" name"' and sql.literal("it's") == "'it''s'"
    for query in (sql.ROW_COUNTS, sql.TABLES, sql.USER_SCHEMAS, sql.DATABASE_FACTS, sql.big_tables(1)):
        assert sql.user_schema() in query
