"""Reading Vercel Blob: a blob is a plain HTTPS URL on `<store>.public.blob.vercel-storage.com`
(anyone may read it) or `<store>.private.blob.vercel-storage.com` (a private store: the request
carries `Authorization: Bearer <BLOB_READ_WRITE_TOKEN>`). A blob that is gone answers 404.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import IO
from urllib.parse import urlsplit

import requests

from supermark_ops import http
from supermark_ops.documents.errors import DocumentsError

DEFAULT_HOSTS = ("*.blob.vercel-storage.com",)


@dataclass(frozen=True)
class Fetched:
    """What a read of an object found: its size, sha256 (of the bytes read) and content type."""

    size: int
    sha256: str
    content_type: str = ""


@dataclass(frozen=True)
class BlobStore:
    hosts: tuple[str, ...] = DEFAULT_HOSTS  # host[:port] patterns of the store's URLs
    token: str = field(default="", repr=False)
    verify: str | bool = True
    timeout: float = 60.0
    attempts: int = 3

    def owns(self, url: str) -> bool:
        """A URL of this store (so its row's file moves)."""
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and any(
            fnmatchcase(parts.netloc.lower(), pattern.lower()) for pattern in self.hosts
        )

    def _get(self, method: str, url: str) -> requests.Response:
        # The token goes to the store's own hosts, and only over HTTPS.
        headers = {"Authorization": f"Bearer {self.token}"} if self.token and url.startswith("https:") else {}
        try:
            return http.send(
                lambda: requests.request(
                    method, url, headers=headers, stream=True, timeout=self.timeout, verify=self.verify
                ),
                attempts=self.attempts,
            )
        except requests.RequestException as exc:
            raise DocumentsError(f"{url}: unreachable ({type(exc).__name__})") from None

    def _check(self, resp: requests.Response, url: str) -> bool:
        """True for 200, False for 404 (the blob is gone); anything else is said plainly."""
        if resp.status_code == 404:
            return False
        if resp.status_code in (401, 403):
            raise DocumentsError(
                f"{url}: HTTP {resp.status_code}: a private Blob store; give its read-write token "
                "(SUPERMARK_BLOB_READ_WRITE_TOKEN)" + ("" if self.token else ", none was given")
            )
        if resp.status_code != 200:
            raise DocumentsError(f"{url}: HTTP {resp.status_code}")
        return True

    def size(self, url: str) -> int | None:
        """The blob's size (HEAD), None when it is gone."""
        with self._get("HEAD", url) as resp:
            return int(resp.headers.get("Content-Length", "0")) if self._check(resp, url) else None

    def fetch(self, url: str, out: IO[bytes]) -> Fetched | None:
        """The blob into `out`, with its size and sha256; None when it is gone."""
        digest, size = hashlib.sha256(), 0
        with self._get("GET", url) as resp:
            if not self._check(resp, url):
                return None
            try:
                for chunk in resp.iter_content(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            except requests.RequestException as exc:  # cut short (urllib3 checks Content-Length)
                raise DocumentsError(f"{url}: the download broke off ({type(exc).__name__})") from None
            return Fetched(size, digest.hexdigest(), resp.headers.get("Content-Type", ""))
