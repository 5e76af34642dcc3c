"""Retention over a simulated year of nightly backups (the clock is driven, nothing sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supermark_ops.backup.retention import Backup, Policy, backup_name, plan

START = datetime(2026, 1, 1, 3, 15, tzinfo=UTC)


def expected_after(days: list[datetime], policy: Policy) -> set[str]:
    """Written out the long way: for each period, walk back and take the newest backup."""
    keep: set[str] = set()
    for count, key in (
        (policy.daily, lambda t: t.date()),
        (policy.weekly, lambda t: t.isocalendar()[:2]),
        (policy.monthly, lambda t: (t.year, t.month)),
    ):
        periods: list[object] = []
        for t in sorted(days, reverse=True):
            k = key(t)
            if k not in periods:
                periods.append(k)
                if len(periods) > count:
                    break
                keep.add(backup_name(t))
    return keep


def test_a_year_of_nightly_runs_keeps_exactly_the_expected_set() -> None:
    policy = Policy()
    stored: set[str] = set()
    taken: list[datetime] = []
    for day in range(365):
        now = START + timedelta(days=day)
        taken.append(now)
        stored.add(backup_name(now))  # a new, verified backup...
        keep, delete = plan([Backup(n) for n in stored], policy)  # ...then retention
        assert keep | delete == stored and not keep & delete
        stored = keep
        # Never more than 7 + 4 + 6 kept; the newest is always there.
        assert len(stored) <= 17
        assert backup_name(now) in stored
    assert stored == expected_after(taken, policy)
    # Daily: the last 7 days. Monthly: one per month for the last 6 months.
    last = taken[-1]
    for back in range(7):
        assert backup_name(last - timedelta(days=back)) in stored
    months = {Backup(n).taken_at.strftime("%Y-%m") for n in stored}
    assert {"2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"} <= months


def test_the_newest_verified_backup_survives_a_zero_daily_count() -> None:
    backups = [Backup(backup_name(START + timedelta(days=d))) for d in range(10)]
    keep, _ = plan(backups, Policy(daily=0, weekly=0, monthly=1))
    assert backup_name(START + timedelta(days=9)) in keep


def test_failed_backups_never_push_out_good_ones() -> None:
    good = [Backup(backup_name(START + timedelta(days=d))) for d in range(3)]
    bad = [Backup(backup_name(START + timedelta(days=3 + d)), verified=False) for d in range(10)]
    keep, delete = plan(good + bad, Policy(daily=2, weekly=0, monthly=0))
    assert {b.name for b in good[-2:]} <= keep
    # Unverified backups newer than the newest good one stay as evidence.
    assert {b.name for b in bad} <= keep
    assert delete == {good[0].name}


def test_names_it_did_not_write_are_refused() -> None:
    with pytest.raises(ValueError, match="never touched"):
        plan([Backup("customer-export.sql")], Policy())


def test_a_policy_that_keeps_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="not all 0"):
        Policy(daily=0, weekly=0, monthly=0)
