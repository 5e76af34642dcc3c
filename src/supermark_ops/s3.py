"""S3-compatible object storage (MinIO, DigitalOcean Spaces, AWS): small pieces.

A SigV4 signer over `requests`, so a signed request costs no boto3 import
(the monitor runs every few minutes and stays small, and the host's venv has
no botocore). The signer is checked against botocore's in the tests. `Bucket`
is the one client of the backups, the monitor and the documents' migration: check, list,
head, get (to a file, or hashed as it streams), put, delete, path style, retried through
supermark_ops.http.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests

from supermark_ops import http
from supermark_ops.config import BucketSettings
from supermark_ops.errors import OpsError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_v4(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    region: str,
    payload_sha256: str = EMPTY_SHA256,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4 (service s3)."""
    now = now or datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(url)
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method.upper(),
            quote(unquote(parts.path) or "/", safe="/-_.~"),
            "&".join(
                f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
            ),
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": amz_date,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        ),
    }


class S3Error(OpsError):
    """An object storage request failed; the message says which, and what the server said."""


@dataclass(frozen=True)
class Object:
    key: str
    size: int
    etag: str
    content_type: str = ""  # what HEAD says (a listing does not)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # AWS answers in a namespace, MinIO and others may not


@dataclass(frozen=True)
class Bucket(BucketSettings):
    """The client of one bucket (and optionally a key prefix inside it): its settings, and how
    long to wait and whom to trust."""

    timeout: float = 60.0
    verify: str | bool = True  # a CA bundle's path for a private CA

    @classmethod
    def of(cls, settings: BucketSettings, ca_file: str = "") -> Bucket:
        """The client of a bucket's settings (the off-site ones carry more: those stay there)."""
        own = {f.name: getattr(settings, f.name) for f in fields(BucketSettings)}
        return cls(**own, verify=http.verify(ca_file))

    def label(self) -> str:
        return f"s3 {self.endpoint.rstrip('/')}/{self.bucket}/{self.prefix}"

    def _url(self, key: str = "", query: dict[str, str] | None = None) -> str:
        path = f"/{quote(self.bucket)}" + (f"/{quote(self.prefix + key, safe='/-_.~')}" if key else "")
        return self.endpoint.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")

    def _request(
        self,
        method: str,
        key: str = "",
        query: dict[str, str] | None = None,
        body: IO[bytes] | None = None,
        payload_sha256: str = EMPTY_SHA256,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        content_type: str = "",
    ) -> requests.Response:
        url = self._url(key, query)

        def attempt() -> requests.Response:
            if body is not None:
                body.seek(0)
            headers = sign_v4(method, url, self.access_key, self.secret_key, self.region, payload_sha256)
            if content_type:
                headers["Content-Type"] = content_type  # stored with the object; not signed (need not be)
            return requests.request(
                method,
                url,
                headers=headers,
                data=body,
                stream=stream,
                timeout=self.timeout,
                verify=self.verify,
            )

        try:
            resp = http.send(attempt, attempts=self.attempts)
        except requests.RequestException as exc:
            raise S3Error(
                f"{self.label()} unreachable ({type(exc).__name__}): check the endpoint, the network"
            ) from None
        if resp.status_code in ok:
            return resp
        code = ET.fromstring(resp.content).findtext("Code") if resp.content[:1] == b"<" else ""
        hint = {403: "check the access key and secret", 404: "check the bucket name"}.get(
            resp.status_code, ""
        )
        raise S3Error(f"{method} {self.label()}{key}: HTTP {resp.status_code} {code or ''} {hint}".rstrip())

    def check(self) -> None:
        """The bucket answers a signed HEAD (it exists, and the keys may read it)."""
        self._request("HEAD")

    def list(self, prefix: str = "") -> Iterator[Object]:
        """Every object under prefix+prefix (ListObjectsV2, all pages), keys without our prefix."""
        query = {"list-type": "2", "prefix": self.prefix + prefix}
        while True:
            root = ET.fromstring(self._request("GET", query=query).content)
            for item in root:
                if _local(item.tag) != "Contents":
                    continue
                fields = {_local(child.tag): child.text or "" for child in item}
                key = fields["Key"].removeprefix(self.prefix)
                yield Object(key, int(fields.get("Size", "0")), fields.get("ETag", "").strip('"'))
            fields = {_local(child.tag): child.text or "" for child in root}
            if fields.get("IsTruncated") != "true" or not fields.get("NextContinuationToken"):
                return
            query = {**query, "continuation-token": fields["NextContinuationToken"]}

    def head(self, key: str) -> Object | None:
        resp = self._request("HEAD", key, ok=(200, 404))
        if resp.status_code == 404:
            return None
        return Object(
            key,
            int(resp.headers.get("Content-Length", "0")),
            resp.headers.get("ETag", "").strip('"'),
            resp.headers.get("Content-Type", ""),
        )

    def download(self, key: str, path: Path) -> None:
        """The object into path, fsynced. Callers give a temporary name and rename it once they
        have checked the content (so a torn download never sits under a real name)."""
        with self._request("GET", key, stream=True) as resp, path.open("wb") as out:
            for chunk in resp.iter_content(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())

    def fetch(self, key: str, out: IO[bytes] | None = None) -> tuple[int, str]:
        """The object's size and sha256 as it streams in (into `out` when given): a read-back
        that checks what the server holds, not what was sent."""
        digest, size = hashlib.sha256(), 0
        with self._request("GET", key, stream=True) as resp:
            for chunk in resp.iter_content(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
        return size, digest.hexdigest()

    def upload(self, key: str, path: Path, sha256: str, content_type: str = "") -> None:
        """One PUT (up to 5 GiB on S3 and Spaces), signed over the file's sha256."""
        with path.open("rb") as body:
            self._request("PUT", key, body=body, payload_sha256=sha256, content_type=content_type)

    def delete(self, key: str) -> None:
        self._request("DELETE", key, ok=(200, 204))
