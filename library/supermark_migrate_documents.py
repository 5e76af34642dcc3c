#!/usr/bin/python
"""Ansible module: move the stored files the app's database refers to into the stack's bucket.

Thin by design: it parses arguments and calls supermark_ops.documents, which is tested against
a real PostgreSQL, the SigV4-verifying S3 stand-in and a Vercel Blob stand-in.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_migrate_documents
short_description: Copy the documents from Vercel Blob or an old S3/R2 bucket into the stack's bucket
description:
  - Reads every row that refers to a stored file (documents, versions and their originals, pages,
    brand and dataroom logos and banners, link images, annotation images, avatars), copies each
    object into the stack's bucket under the app's key layout, reads it back (size and sha256),
    and only then rewrites the rows (to S3_PATH and the key, or to the stack's image URL), a batch
    per transaction.
  - A re-run copies only what is missing or differs. A source object that is gone is reported by
    row and its row is left as it was; the task fails unless O(allow_missing=true).
  - Check mode is the dry run; it lists what would move and the total bytes.
  - Runs with a Python that imports supermark_ops (the ops_tools venv on the host).
options:
  target_url:
    description: The stack's database (postgres:// or postgresql://). Never logged.
    type: str
    required: true
  client_image:
    description: Run psql from this image when the host has none.
    type: str
    default: ""
  bucket_endpoint:
    description: The stack's S3 endpoint (the files name, e.g. https://files.example.com).
    type: str
    required: true
  bucket:
    description: The stack's bucket.
    type: str
    required: true
  bucket_region:
    description: The stack bucket's region.
    type: str
    default: us-east-1
  bucket_access_key:
    description: The app's access key for the bucket.
    type: str
    required: true
  bucket_secret_key:
    description: The app's secret key for the bucket. Never logged.
    type: str
    required: true
  files_url:
    description:
      - The base of the image URLs the app writes; empty for O(bucket_endpoint)/O(bucket), as the app does.
    type: str
    default: ""
  blob_hosts:
    description: Host[:port] patterns of the Vercel Blob store's URLs.
    type: list
    elements: str
    default: ["*.blob.vercel-storage.com"]
  blob_token:
    description: The Blob store's read-write token (a private store). Never logged.
    type: str
    default: ""
  source_s3_endpoint:
    description: The old deployment's S3/R2 endpoint, if it stored files there.
    type: str
    default: ""
  source_s3_bucket:
    description: The old deployment's bucket.
    type: str
    default: ""
  source_s3_region:
    description: Its region (R2 is auto).
    type: str
    default: auto
  source_s3_access_key:
    description: A key that may read the old bucket.
    type: str
    default: ""
  source_s3_secret_key:
    description: Its secret. Never logged.
    type: str
    default: ""
  source_s3_public_urls:
    description: Public URL prefixes images of the old bucket were linked from (an r2.dev or CDN name).
    type: list
    elements: str
    default: []
  jobs:
    description: Objects in flight at once.
    type: int
    default: 4
  batch:
    description: Rows rewritten per transaction.
    type: int
    default: 100
  allow_missing:
    description:
      - Succeed even when objects are gone from their source (still listed; their rows are left).
    type: bool
    default: false
  workdir:
    description: Where copies are staged on their way.
    type: path
    default: /var/lib/supermark-ops/migrate
  ca_file:
    description: A CA bundle to trust for HTTPS (a private CA).
    type: str
    default: ""
"""

RETURN = r"""
objects:
  description: Objects referenced, copied, present, missing at their source, failed, or (check mode) to copy.
  type: dict
  returned: always
bytes:
  description: Bytes copied, and (check mode) bytes that would be copied.
  type: dict
  returned: always
rows:
  description: Rows read, to rewrite, and rewritten.
  type: dict
  returned: always
missing:
  description: Each row's reference to an object gone from its source (table, id, column, url).
  type: list
  returned: always
errors:
  description: Each row's reference to an object that could not be copied and checked, with the reason.
  type: list
  returned: always
"""

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main() -> None:
    secret = {"type": "str", "default": "", "no_log": True}
    module = AnsibleModule(
        argument_spec={
            "target_url": {"type": "str", "required": True, "no_log": True},
            "client_image": {"type": "str", "default": ""},
            "bucket_endpoint": {"type": "str", "required": True},
            "bucket": {"type": "str", "required": True},
            "bucket_region": {"type": "str", "default": "us-east-1"},
            "bucket_access_key": {"type": "str", "required": True},
            "bucket_secret_key": {"type": "str", "required": True, "no_log": True},
            "files_url": {"type": "str", "default": ""},
            "blob_hosts": {"type": "list", "elements": "str", "default": ["*.blob.vercel-storage.com"]},
            "blob_token": secret,
            "source_s3_endpoint": {"type": "str", "default": ""},
            "source_s3_bucket": {"type": "str", "default": ""},
            "source_s3_region": {"type": "str", "default": "auto"},
            "source_s3_access_key": {"type": "str", "default": ""},
            "source_s3_secret_key": secret,
            "source_s3_public_urls": {"type": "list", "elements": "str", "default": []},
            "jobs": {"type": "int", "default": 4},
            "batch": {"type": "int", "default": 100},
            "allow_missing": {"type": "bool", "default": False},
            "workdir": {"type": "path", "default": "/var/lib/supermark-ops/migrate"},
            "ca_file": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops.documents.run import configure, move
        from supermark_ops.errors import OpsError
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}: run the task with the "
            "ops_tools venv (ansible_python_interpreter: /opt/supermark-ops/venv/bin/python)."
        )
    p = module.params
    try:
        settings = configure(
            target_url=p["target_url"],
            client_image=p["client_image"],
            bucket_endpoint=p["bucket_endpoint"],
            bucket_name=p["bucket"],
            bucket_region=p["bucket_region"],
            access_key=p["bucket_access_key"],
            secret_key=p["bucket_secret_key"],
            files_url=p["files_url"],
            blob_hosts=tuple(p["blob_hosts"]),
            blob_token=p["blob_token"],
            source_endpoint=p["source_s3_endpoint"],
            source_bucket=p["source_s3_bucket"],
            source_region=p["source_s3_region"],
            source_access_key=p["source_s3_access_key"],
            source_secret_key=p["source_s3_secret_key"],
            source_urls=tuple(p["source_s3_public_urls"]),
            workdir=Path(p["workdir"]),
            jobs=p["jobs"],
            batch=p["batch"],
            allow_missing=p["allow_missing"],
            ca_file=p["ca_file"],
        )
        summary = move(settings, dry_run=module.check_mode)
    except OpsError as exc:
        module.fail_json(msg=str(exc))
    result = summary.as_dict(redact=True)  # public Blob URLs open documents: not in Ansible's output
    changed = summary.rewritten > 0 or summary.count("copied") > 0
    if not result["ok"]:
        module.fail_json(msg=str(result["reason"]), changed=changed, **result)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
