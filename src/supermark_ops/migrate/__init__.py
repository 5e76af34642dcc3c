"""Vercel Postgres / Neon to the droplet's Postgres: preflight, dump, restore, verify."""

from supermark_ops.migrate.errors import MigrateError

__all__ = ["MigrateError"]
