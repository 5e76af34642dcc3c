"""The app's optional outside services, checked the same way at deploy time and by the monitor:
Tinybird (analytics), Trigger.dev (background jobs), QStash (webhook delivery) and Gotenberg
(Office conversion). Each check returns the problem in words that say what to fix, or "" when
the service answers as it must. Secrets come in as arguments (from the environment, never argv).
"""

from supermark_ops.external.checks import (
    REQUIRED_TINYBIRD_SCOPES,
    gotenberg,
    qstash,
    reach,
    tinybird_scopes,
    tinybird_token,
    trigger,
)

__all__ = [
    "REQUIRED_TINYBIRD_SCOPES",
    "gotenberg",
    "qstash",
    "reach",
    "tinybird_scopes",
    "tinybird_token",
    "trigger",
]
