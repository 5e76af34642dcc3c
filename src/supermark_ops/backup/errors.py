class BackupError(Exception):
    """A backup, restore or drill step failed; the message says which and what to check."""
