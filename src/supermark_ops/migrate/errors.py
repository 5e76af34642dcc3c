"""The one exception of the migration: its message says what to do."""


class MigrateError(Exception):
    """A migration step failed; the message names the cause and the fix."""
