"""The one exception of the migration: its message says what to do."""

from supermark_ops.errors import OpsError


class MigrateError(OpsError):
    """A migration step failed; the message names the cause and the fix."""
