"""The cut-over and the restore (side_effect.yml), on a stack converged at v2.

Everything goes through the proxy over HTTPS with certificates Pebble issued, as in the stack
scenario; the helpers are molecule/shared/stackhost.py.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from stackhost import DOMAIN, FILES, curl, env_file, presign, psql, sh

testinfra_hosts = ["cutover"]


def test_cut_over_brought_the_source_rows_and_kept_a_safety_dump(host: Any) -> None:
    assert psql(host, "SELECT count(*) FROM \"Document\" WHERE id LIKE 'vercel-%'") == "1234"
    assert psql(host, "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL") == "2"
    dumps = sh(host, "ls /var/lib/supermark-ops/migrate/").split()
    # Two safety dumps: the app's database before the failed attempt (side_effect.yml), then the
    # half-migrated target before the run that finished (it is dumped whatever its mark says).
    assert len([d for d in dumps if d.startswith("target-before-migration-")]) == 2, dumps
    assert any(d.startswith("source-") for d in dumps)
    assert curl(host, f"https://{DOMAIN}/api/health")[0] == 200


BACKUP = "/opt/supermark-ops/venv/bin/supermark-ops backup --config /etc/supermark-ops/backup.yml --json"
BLOBS = "/opt/standin-blob/blobs"  # what the Vercel Blob stand-in served to the cut-over


def test_cut_over_moved_the_documents_off_blob_and_the_app_serves_them(host: Any) -> None:
    """playbooks/migrate.yml's documents step: the rows point at the stack's bucket, the app's own
    presigned download (its real route) gives the bytes Blob had, and backups hold them."""
    rows = psql(
        host,
        "SELECT string_agg(concat_ws(' ', id, \"storageType\", file, \"originalFile\"), ';' ORDER BY id) "
        'FROM (SELECT id, "storageType", file, "originalFile" FROM "Document" WHERE id = \'blobdoc1\' '
        'UNION ALL SELECT id, "storageType", file, "originalFile" FROM "DocumentVersion" '
        'UNION ALL SELECT id, "storageType", file, NULL FROM "DocumentPage") r',
    ).split(";")
    moved = {}
    for line in rows:
        id_, storage, key, *original = line.split(" ")
        assert storage == "S3_PATH" and key.startswith("cteam1/doc_blobdoc1/"), line
        assert original in ([], [key]), line
        moved[id_] = key
    blob_of = {"blobdoc1": "quarterly-report-Qr7x.pdf", "blobver1": "quarterly-report-Qr7x.pdf",
               "blobpage1": "page-1-Pg1a.png"}  # fmt: skip
    assert sorted(moved) == sorted(blob_of)
    logo = psql(host, "SELECT logo FROM \"Brand\" WHERE id = 'blobbrand1'")
    images = f"https://{FILES}/supermark-documents/cteam1/images/"
    assert re.fullmatch(rf"{images}assets-[0-9a-f]{{32}}\.png", logo)
    moved["logo"], blob_of["logo"] = logo.split("/supermark-documents/", 1)[1], "logo-Lg9.png"
    token = env_file(host)["INTERNAL_API_KEY"]
    for id_, key in moved.items():
        status, body = curl(
            host,
            f"https://{DOMAIN}/api/file/s3/get-presigned-get-url",
            "-X", "POST", "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
            "--data", json.dumps({"key": key}),
        )  # fmt: skip
        assert status == 200, body
        url = json.loads(body)["url"]
        assert url.startswith(f"https://{FILES}/supermark-documents/{key}?")
        assert curl(host, url, out="/tmp/moved.bin")[0] == 200
        assert sh(host, "sha256sum < /tmp/moved.bin") == sh(host, f"sha256sum < {BLOBS}/{blob_of[id_]}")
    # The backups taken since the cut-over hold the moved documents, byte for byte.
    newest = max(b["name"] for b in json.loads(sh(host, f"{BACKUP} list"))["backups"] if b["complete"])
    manifest = json.loads(sh(host, f"cat /var/backups/supermark/{newest}.manifest.json"))
    for id_, key in moved.items():
        blob_sha = sh(host, f"sha256sum < {BLOBS}/{blob_of[id_]}").split()[0]
        assert manifest["documents"][key]["sha256"] == blob_sha, (newest, key)


def test_backup_timers_are_scheduled_and_the_first_runs_passed(host: Any) -> None:
    for timer in ("supermark-ops-backup.timer", "supermark-ops-drill.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running
    assert "Persistent=true" in sh(host, "systemctl cat supermark-ops-backup.timer")
    assert host.file("/etc/supermark-ops/backup.yml").mode == 0o600
    assert host.file("/var/backups/supermark").mode == 0o700
    for run in ("backup", "drill"):
        assert json.loads(sh(host, f"cat /var/lib/supermark-ops/{run}-last.json"))["ok"] is True
    # The restore in side_effect.yml kept the state before it as a safety backup.
    listing = json.loads(sh(host, f"{BACKUP} list"))["backups"]
    assert len([b for b in listing if b["complete"]]) >= 2  # one a day, plus the safety backup


def test_backup_and_restore_bring_back_rows_and_documents(host: Any) -> None:
    key = f"backup-{uuid.uuid4().hex}.bin"
    sh(host, "head -c 200000 /dev/urandom > /tmp/doc.bin")
    assert curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/doc.bin")[0] == 200
    before = psql(host, 'SELECT count(*) FROM "Document"')
    sh(host, "systemctl start supermark-ops-backup.service")
    newest = json.loads(sh(host, "cat /var/lib/supermark-ops/backup-last.json"))
    assert newest["ok"] and newest["documents"] >= 1
    manifest = json.loads(sh(host, f"cat /var/backups/supermark/{newest['backup']}.manifest.json"))
    assert key in manifest["documents"] and "public._prisma_migrations" in manifest["tables"]
    # Signed with the key the role keeps beside the stack's secrets (0600, root's).
    assert manifest["signature"]["alg"] == "hmac-sha256" and len(manifest["signature"]["mac"]) == 64
    assert host.file("/opt/supermark/backup/backup.env").mode == 0o600
    assert host.file("/opt/supermark/backup/backup.env").user == "root"
    # Damage: rows gone, the document overwritten.
    psql(host, 'DELETE FROM "Document"')
    sh(host, "head -c 1000 /dev/urandom > /tmp/other.bin")
    assert curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/other.bin")[0] == 200
    restored = json.loads(sh(host, f"{BACKUP} restore --yes --name {newest['backup']}"))
    assert restored["ok"] and restored["documents_uploaded"] == 1
    assert psql(host, 'SELECT count(*) FROM "Document"') == before
    assert curl(host, presign(host, key, "get"), out="/tmp/back.bin")[0] == 200
    assert sh(host, "sha256sum < /tmp/doc.bin") == sh(host, "sha256sum < /tmp/back.bin")
    assert curl(host, f"https://{DOMAIN}/api/health")[0] == 200
    sh(host, "systemctl start supermark-ops-drill.service")
    drill = json.loads(sh(host, "cat /var/lib/supermark-ops/drill-last.json"))
    assert drill["ok"] and drill["backup"] > newest["backup"]  # the newest is now the safety backup
