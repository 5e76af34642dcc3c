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
    """A table's row count and a hash over its rows: the sum of a 64-bit hash of each row's text,
    equal for the same multiset of rows whatever their order, computed in one scan.
    hashtextextended is the hash behind hash partitioning (so stable across versions and
    machines); over a row's text it costs about a fifth of md5's."""
    return f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {table} t"


# The post-data entries that can be built while other tables are still being copied, by the
# catalog and OID that pg_restore --list shows for each: catalog, OID, kind, table, referenced
# table. Kind k: a primary, unique or exclusion key or a unique index (what a foreign key can
# reference); i: another index; f: a foreign key between two plain tables.
POST_DATA_OBJECTS = (
    "SELECT 'pg_class'::regclass::oid, i.indexrelid, CASE WHEN i.indisunique THEN 'k' ELSE 'i' END, "
    "format('%I.%I', n.nspname, c.relname), '' "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    f"WHERE c.relkind = 'r' AND {user_schema()} "
    "UNION ALL SELECT 'pg_constraint'::regclass::oid, o.oid, "
    "CASE WHEN o.contype = 'f' THEN 'f' ELSE 'k' END, format('%I.%I', n.nspname, c.relname), "
    "CASE WHEN o.contype = 'f' THEN format('%I.%I', pn.nspname, p.relname) ELSE '' END "
    "FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_class p ON p.oid = o.confrelid LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace "
    f"WHERE c.relkind = 'r' AND {user_schema()} "
    "AND (o.contype IN ('p', 'u', 'x') OR o.contype = 'f' AND p.relkind = 'r')"
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
