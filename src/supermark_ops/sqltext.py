"""Quoting names and values into SQL text, for the statements that cannot take parameters
(CREATE DATABASE, COMMENT ON, DROP SCHEMA) that migrate and backup send through psql."""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted identifier: "my ""odd"" name"."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A quoted string literal: 'it''s'."""
    return "'" + text.replace("'", "''") + "'"
