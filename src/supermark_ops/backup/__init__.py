"""Backups: Postgres dumps and documents, retention, off-site copies, restore drills."""
