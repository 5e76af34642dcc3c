"""The documents' migration's exception: its message says what to do."""

from supermark_ops.errors import OpsError


class DocumentsError(OpsError):
    """A documents' migration step failed; the message names the cause and the fix."""
