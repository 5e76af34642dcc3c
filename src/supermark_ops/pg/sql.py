"""SQL text the tools send: quoting, and every catalog query (which tables, how many rows,
which sequences, how big), each written once.

Quoting is for the statements that cannot take parameters (CREATE DATABASE, COMMENT ON,
DROP SCHEMA); names and values reach psql only through `ident` and `literal`.
"""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted identifier: "my ""odd"" name"."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A quoted string literal: 'it''s'."""
    return "'" + text.replace("'", "''") + "'"


def user_schema(alias: str = "n") -> str:
    """The condition that keeps the database's own schemas (not the catalog, TOAST or temp ones)."""
    return (
        f"{alias}.nspname NOT IN ('pg_catalog', 'information_schema') "
        f"AND {alias}.nspname NOT LIKE 'pg_toast%' AND {alias}.nspname NOT LIKE 'pg_temp%'"
    )


_RELATIONS = f"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_schema()}"

# Every ordinary and partitioned table's exact row count, in one statement: "schema.table", count.
ROW_COUNTS = (
    "SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
    f"{_RELATIONS} AND c.relkind IN ('r', 'p') ORDER BY 1"
)

# The tables (quoted, schema-qualified; partitions are counted through their parent).
TABLES = (
    f"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) {_RELATIONS} "
    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
)

SEQUENCES = (
    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value::text, 'unset') "
    "FROM pg_sequences ORDER BY 1"
)

USER_SCHEMAS = f"SELECT n.nspname FROM pg_namespace n WHERE {user_schema()}"

# The server's version and the database's size.
SERVER_FACTS = "SELECT current_setting('server_version_num'), pg_database_size(current_database())"

# The server's version, who we are, how many objects the database holds, and its comment
# (prefixed, so an empty comment is still a field psql prints).
DATABASE_FACTS = (
    "SELECT current_setting('server_version_num'), current_user, "
    f"(SELECT count(*) {_RELATIONS}), "
    "'c:' || coalesce((SELECT shobj_description(oid, 'pg_database') FROM pg_database "
    "WHERE datname = current_database()), '')"
)


def table_hash(table: str) -> str:
    """A table's row count and a hash over its rows: the sum of 64-bit slices of each row's md5,
    equal for the same multiset of rows whatever their order, computed in one scan."""
    return (
        "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) "
        f"FROM {table} t"
    )


def big_tables(split_bytes: int) -> str:
    """Each table of at least split_bytes: name, pages now, columns to copy, binary-safe."""
    return (
        "SELECT format('%I.%I', n.nspname, c.relname), "
        "pg_relation_size(c.oid) / current_setting('block_size')::int, "
        "(SELECT string_agg(format('%I', a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), "
        # Binary COPY is cheaper on both servers; safe only when every column is a built-in type or
        # an enum (arrays and composites of the database's own types carry its type OIDs).
        "NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "AND t.oid >= 16384 AND t.typtype <> 'e') "
        f"{_RELATIONS} AND c.relkind = 'r' "
        f"AND pg_relation_size(c.oid) >= {int(split_bytes)} ORDER BY 2 DESC"
    )
