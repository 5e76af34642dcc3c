"""Which backups to keep: daily, weekly and monthly keep counts.

The policy of the well-known backup images (defaults 7 / 4 / 6): for each of
the last N days, ISO weeks and months that have a backup, the newest backup
of that period is kept. Two rules stand above the counts: the newest verified
backup is always kept, and nothing the tool did not write is ever a
candidate for deletion (the caller passes only its own backups, and this
module refuses names that are not in its format). A restore's safety backup
is kept for `safety_days` beside the counts.

Pure functions over timestamps, so a year of nightly runs is tested by
driving the clock, not by sleeping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# supermark-20261129T031500Z: what the backup tool names its backups.
NAME = re.compile(r"^supermark-(\d{8}T\d{6}Z)$")


@dataclass(frozen=True)
class Backup:
    name: str
    verified: bool = True
    safety: bool = False  # a restore's safety backup (its manifest says so)

    @property
    def taken_at(self) -> datetime:
        match = NAME.match(self.name)
        if match is None:
            raise ValueError(f"{self.name!r} is not a supermark-ops backup name; it is never touched")
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def backup_name(at: datetime) -> str:
    return f"supermark-{at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6
    # A restore's safety backup (the state a restore replaced) is kept this many days, whatever the
    # counts say: a later backup the same day must not push it out.
    safety_days: int = 30

    def __post_init__(self) -> None:
        if min(self.daily, self.weekly, self.monthly) < 0 or self.daily + self.weekly + self.monthly == 0:
            raise ValueError("keep counts must be 0 or more, and not all 0 (that would delete everything)")
        if self.safety_days < 0:
            raise ValueError("safety_days must be 0 or more")

    def held(self, backup: Backup, now: datetime) -> bool:
        """A safety backup younger than safety_days: never a candidate for deletion."""
        return backup.safety and now - backup.taken_at < timedelta(days=self.safety_days)


def _newest_per_period(
    backups: list[Backup], period: Callable[[datetime], tuple[int, ...]], count: int
) -> set[str]:
    """The newest backup of each of the `count` most recent periods that have one."""
    kept: set[str] = set()
    seen: set[tuple[int, ...]] = set()
    for backup in sorted(backups, key=lambda b: b.taken_at, reverse=True):
        key = period(backup.taken_at)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.add(backup.name)
    return kept


def plan(backups: Iterable[Backup], policy: Policy, now: datetime | None = None) -> tuple[set[str], set[str]]:
    """(keep, delete): every backup given lands in exactly one of the two. Safety backups held
    at `now` are kept beside the counts, and do not take an ordinary backup's place in them."""
    own = list(backups)
    for backup in own:
        backup.taken_at  # noqa: B018 - raises for a name that is not ours
    verified = [b for b in own if b.verified]
    held = {b.name for b in verified if policy.held(b, now or datetime.now(UTC))}
    counted = [b for b in verified if b.name not in held]
    keep = (
        held
        | _newest_per_period(counted, lambda t: (t.year, t.month, t.day), policy.daily)
        | _newest_per_period(counted, lambda t: tuple(t.isocalendar())[:2], policy.weekly)
        | _newest_per_period(counted, lambda t: (t.year, t.month), policy.monthly)
    )
    if verified:
        keep.add(max(verified, key=lambda b: b.taken_at).name)
    # An unverified backup newer than every verified one is kept (it may be
    # a run in progress, or the evidence of a failure); older ones go.
    newest_good = max((b.taken_at for b in verified), default=None)
    keep |= {b.name for b in own if not b.verified and (newest_good is None or b.taken_at > newest_good)}
    return keep, {b.name for b in own} - keep
