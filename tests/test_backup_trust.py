"""Backups that cannot be turned against their owner, and never lose a backup on the way:
signed manifests (a planted or changed one is refused), names and hashes checked before a path
is built, off-site retention that stops on a read error and leaves what it cannot trust alone,
a restore's safety backup kept for days, a delete cut short that never leaves a manifest
without its dump, and runs that wait for a migration. Against a real S3 server (moto's, with a
proxy that fails one read on purpose); no database needed."""

# ruff: noqa: F811 - the S3 fixtures are test_backup's, imported by name

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from servers import FaultyProxy
from supermark_ops.backup import signing
from supermark_ops.backup.backup import apply_retention
from supermark_ops.backup.common import Setup, locked
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.restore import listing, restore
from supermark_ops.backup.retention import backup_name
from supermark_ops.backup.store import Store
from supermark_ops.locks import single_run
from test_backup import KEY, bucket_cfg, built, fake_backup, key_file, s3, s3_server  # noqa: F401

OURS = KEY.encode()


@pytest.fixture()
def setup_for(tmp_path: Path, s3_server: str) -> Any:
    """A Setup over a fresh local folder and the off-site bucket (through `endpoint` if given)."""

    def make(endpoint: str = "", key: str = KEY, **keep: int) -> Setup:
        return Setup.of(
            built(
                {
                    "directory": str(tmp_path / "backups"),
                    "state_dir": str(tmp_path / "state"),
                    "signing_key_file": key_file(tmp_path / "stack", key),
                    # Never reached: a docker call here would fail the test (it carries no docker mark).
                    "postgres": {"container": "must-not-be-touched", "user": "u", "database": "d"},
                    "app": {"container": "must-not-be-stopped"},
                    "offsite": {
                        **bucket_cfg(endpoint or s3_server, "offsite", prefix="droplet-1/"),
                        "attempts": 1,
                    },
                    "keep": {"daily": 7, "weekly": 0, "monthly": 0, **keep},
                }
            )
        )

    return make


def put_backup(s3: Any, at: datetime, docs: dict[str, bytes], key: bytes | None = OURS, **extra: Any) -> str:
    """A backup as `backup run` leaves it off-site: documents, dump, then the manifest."""
    name = backup_name(at)
    dump = f"dump of {name}".encode()
    for body in docs.values():
        s3.put_object(
            Bucket="offsite", Key=f"droplet-1/documents/{hashlib.sha256(body).hexdigest()}", Body=body
        )
    s3.put_object(Bucket="offsite", Key=f"droplet-1/{name}.dump", Body=dump)
    manifest: dict[str, Any] = {
        "name": name,
        "dump": {"file": f"{name}.dump", "size": len(dump), "sha256": hashlib.sha256(dump).hexdigest()},
        "documents": {k: {"sha256": hashlib.sha256(v).hexdigest(), "size": len(v)} for k, v in docs.items()},
        "tables": {"public.Document": len(docs)},
        **extra,
    }
    body = json.dumps(signing.sign(manifest, key) if key else manifest)
    s3.put_object(Bucket="offsite", Key=f"droplet-1/{name}.manifest.json", Body=body.encode())
    return name


def keys(s3: Any) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket="offsite").get("Contents", [])}


DAY = datetime(2026, 11, 1, 3, 15, tzinfo=UTC)


# -- signed manifests: a planted or changed one is refused before anything is touched ------------


def test_a_planted_offsite_backup_is_refused_before_the_app_is_touched(s3: Any, setup_for: Any) -> None:
    setup = setup_for()
    real = put_backup(s3, DAY, {"a.pdf": b"real document"})
    # Someone with write access to the bucket plants a newer backup: a dump of their own, its
    # sha256 right, the manifest unsigned (or signed with a key of their own).
    planted = put_backup(s3, DAY + timedelta(days=1), {"x.pdf": b"theirs"}, key=None)
    with pytest.raises(
        BackupError, match=rf"{planted} is not signed.*the newest there; --name picks another"
    ):
        restore(setup, from_offsite=True)
    theirs = put_backup(s3, DAY + timedelta(days=2), {"x.pdf": b"theirs"}, key=b"t" * 40)
    with pytest.raises(
        BackupError, match=rf"{theirs} does not match its signature \(signed by key [0-9a-f]{{16}}, "
    ):
        restore(setup, from_offsite=True)
    # A changed manifest (one more document, the signature kept) is refused as well.
    changed = json.loads(
        s3.get_object(Bucket="offsite", Key=f"droplet-1/{real}.manifest.json")["Body"].read()
    )
    changed["documents"]["evil.pdf"] = {"sha256": "e" * 64, "size": 1}
    s3.put_object(Bucket="offsite", Key=f"droplet-1/{real}.manifest.json", Body=json.dumps(changed).encode())
    with pytest.raises(BackupError, match=f"{real} does not match its signature"):
        restore(setup, name=real, from_offsite=True)
    with pytest.raises(BackupError, match="--allow-unsigned needs --name"):
        restore(setup, from_offsite=True, allow_unsigned=True)
    # Nothing was fetched: no manifest, dump or document in the local folder.
    assert sorted(p.name for p in setup.store.root.rglob("*") if p.is_file()) == []


def test_names_and_hashes_from_a_manifest_never_become_paths_outside_the_folder(
    s3: Any, setup_for: Any, tmp_path: Path
) -> None:
    setup = setup_for()
    # <folder>/documents/<first two>/<hash>: "../../x" would land two folders above the backup folder.
    escaped = f"escaped-{tmp_path.name}"
    name = put_backup(s3, DAY, {"a.pdf": b"doc"})
    manifest = json.loads(
        s3.get_object(Bucket="offsite", Key=f"droplet-1/{name}.manifest.json")["Body"].read()
    )
    # Signed by our key, even: the format is checked before anything else.
    manifest["documents"]["a.pdf"]["sha256"] = f"../../{escaped}"
    s3.put_object(
        Bucket="offsite",
        Key=f"droplet-1/{name}.manifest.json",
        Body=json.dumps(signing.sign(manifest, OURS)).encode(),
    )
    with pytest.raises(BackupError, match="is not a document sha256"):
        restore(setup, name=name, from_offsite=True)
    with pytest.raises(BackupError, match="is not a supermark-ops backup name"):
        restore(setup, name="../../etc/cron.d/x", from_offsite=True)
    assert not list(tmp_path.parent.rglob(f"{escaped}*")) and not (tmp_path / "etc").exists()


# -- off-site retention: a read that fails stops it; what is not ours is left alone -----------------


@pytest.fixture()
def faulty(s3_server: str) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(s3_server)
    proxy.start()
    yield proxy
    proxy.stop()


def test_offsite_retention_stops_when_a_kept_manifest_cannot_be_read(
    s3: Any, setup_for: Any, faulty: FaultyProxy
) -> None:
    # Five nightly backups off-site, none here (a new droplet); keep three. Each night has a
    # document of its own.
    names = [put_backup(s3, DAY + timedelta(days=d), {f"d{d}.pdf": f"doc {d}".encode()}) for d in range(5)]
    setup = setup_for(faulty.url, daily=3)
    assert setup.offsite is not None
    before = keys(s3)
    faulty.fail_get = {f"{names[3]}.manifest.json"}  # a kept backup's manifest: one failed read
    with pytest.raises(BackupError, match=f"reading the manifest of {names[3]} failed, so nothing is pruned"):
        setup.offsite.apply_retention(setup.policy, setup.store, setup.signing_key, DAY + timedelta(days=5))
    assert faulty.failed and keys(s3) == before  # not one backup, not one document deleted
    # The same run without the fault: the two oldest go, with the documents only they referred to.
    faulty.fail_get = set()
    deleted, warnings = setup.offsite.apply_retention(
        setup.policy, setup.store, setup.signing_key, DAY + timedelta(days=5)
    )
    assert deleted == names[:2] and warnings == []
    assert sum(k.startswith("droplet-1/documents/") for k in keys(s3)) == 3


def test_backups_planted_offsite_neither_push_ours_out_nor_are_deleted(s3: Any, setup_for: Any) -> None:
    names = [put_backup(s3, DAY + timedelta(days=d), {f"d{d}.pdf": f"doc {d}".encode()}) for d in range(4)]
    planted = [
        put_backup(s3, DAY + timedelta(days=d), {"p.pdf": b"planted"}, key=None) for d in range(10, 13)
    ]
    setup = setup_for(daily=3)
    assert setup.offsite is not None
    deleted, warnings = setup.offsite.apply_retention(setup.policy, setup.store, setup.signing_key)
    # Ours are counted among ours: the oldest goes, the newest three stay.
    assert deleted == names[:1]
    left = keys(s3)
    assert all(f"droplet-1/{n}.manifest.json" in left for n in names[1:] + planted)
    assert f"droplet-1/documents/{hashlib.sha256(b'planted').hexdigest()}" in left
    assert warnings and "3 backups without this host's signature are left alone" in warnings[0]


# -- a restore's safety backup outlives the backups taken after it ---------------------------------


def test_a_restores_safety_backup_is_kept_for_its_days(tmp_path: Path) -> None:
    store = Store(tmp_path / "backups")
    setup = Setup.of(
        built(
            {
                "directory": str(store.root),
                "postgres": {"container": "unused", "user": "u", "database": "d"},
                "keep": {"daily": 2, "weekly": 0, "monthly": 0, "safety_days": 10},
            }
        )
    )
    store.prepare()
    fake_backup(store, DAY, {})
    # A restore at 10:00: its safety backup (the state it replaced), then the night's backups go on.
    safety = backup_name(DAY + timedelta(hours=7))
    store.dump_path(safety).write_bytes(b"dump")
    store.write_manifest(safety, {"name": safety, "documents": {}, "tables": {}, "safety": True}, None)
    kept_days = []
    for day in range(1, 14):
        now = DAY + timedelta(days=day)
        fake_backup(store, now, {})
        apply_retention(setup, now)
        if store.complete(safety):
            kept_days.append(day)
    assert kept_days == list(range(1, 11))  # 10 days from its time, then an ordinary old backup
    assert [b.name for b in store.backups()] == [backup_name(DAY + timedelta(days=d)) for d in (12, 13)]


# -- a delete cut short; a manifest without its dump -------------------------------------------------


def test_a_delete_cut_short_never_leaves_a_manifest_without_its_dump(
    tmp_path: Path, setup_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for()
    store = setup.store
    store.prepare()
    name = fake_backup(store, DAY, {})
    real_unlink = Path.unlink
    calls: list[str] = []

    def cut_short(self: Path, missing_ok: bool = False) -> None:
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError("killed between the two deletes")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", cut_short)
    with pytest.raises(OSError):
        store.delete(name)
    monkeypatch.undo()
    assert calls[0] == f"{name}.manifest.json"  # the manifest went first
    assert not store.broken(name) and [b.verified for b in store.backups()] == [
        False
    ]  # unfinished: retention's


def test_a_manifest_without_its_dump_is_listed_broken_and_refused(setup_for: Any, s3: Any) -> None:
    setup = setup_for()
    store = setup.store
    store.prepare()
    good, lost = fake_backup(store, DAY, {}), fake_backup(store, DAY + timedelta(days=1), {})
    store.dump_path(lost).unlink()  # as an interrupted delete of the old order left it
    rows = {r["name"]: r for r in listing(setup) if r["where"] == "local"}
    assert rows[lost] == {"name": lost, "where": "local", "complete": False, "broken": True}
    assert rows[good]["complete"] and store.newest_complete() == good
    with pytest.raises(BackupError, match=f"{lost} has a manifest but no dump"):
        restore(setup, name=lost)


# -- one thing at a time: a migration holds the database ---------------------------------------------


def test_backups_wait_for_a_migration_and_a_restore_is_refused(setup_for: Any) -> None:
    setup = setup_for()
    lock = setup.state_dir / "migrate.lock"
    held, release, released = threading.Event(), threading.Event(), threading.Event()

    def migration() -> None:
        with single_run(lock) as got:
            assert got
            held.set()
            release.wait(10)
            released.set()

    thread = threading.Thread(target=migration)
    thread.start()
    held.wait(10)
    with pytest.raises(BackupError, match="A migration is running"), locked(setup, wait_for_migration=False):
        pass
    steps: list[str] = []
    threading.Timer(0.3, release.set).start()
    with locked(setup, step=steps.append):
        assert released.is_set()  # the backup started only once the migration had let go
    thread.join()
    assert steps == ["waiting for the migration to finish"]
    with locked(setup, step=steps.append):  # nothing holds it now: no wait
        pass
    assert steps == ["waiting for the migration to finish"]
