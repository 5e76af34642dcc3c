from supermark_ops.errors import OpsError


class BackupError(OpsError):
    """A backup, restore or drill step failed; the message says which and what to check."""
