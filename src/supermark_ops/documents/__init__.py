"""The documents move too: every stored file a Supermark database refers to (in Vercel Blob or
an S3/R2 bucket of the old deployment) copied into the stack's bucket under the app's key
layout, checked there, and only then its rows rewritten to it.

    catalog.py   the columns that refer to stored files, read from the app's schema; the key layout
    blob.py      reading Vercel Blob (public URLs, or a private store with its token)
    run.py       plan, copy and verify in parallel, rewrite rows a batch per transaction; the result
    cli.py       `supermark-ops migrate documents`
"""

from supermark_ops.documents.errors import DocumentsError

__all__ = ["DocumentsError"]
