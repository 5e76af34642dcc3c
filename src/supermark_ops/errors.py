"""The one base of the tools' exceptions: each message says what failed and what to do about it.

Every room raises its own subclass (PgError, BackupError, MigrateError, S3Error, DOError,
ConfigError, ...); the command line catches OpsError, prints the message and exits 2.
"""


class OpsError(Exception):
    """Something the operator must fix; the message names the cause and the fix."""
