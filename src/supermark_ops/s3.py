"""S3-compatible object storage (MinIO, DigitalOcean Spaces, AWS): small pieces.

A SigV4 signer over `requests`, so a signed request costs no boto3 import
(the monitor runs every few minutes and stays small). The signer is checked
against botocore's in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import requests

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
    """The headers that sign a request with AWS Signature Version 4 (service s3, no query string)."""
    now = now or datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(url)
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method.upper(),
            quote(parts.path or "/", safe="/~"),
            "",
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


def head_bucket(
    endpoint: str, bucket: str, access_key: str, secret_key: str, region: str, timeout: float
) -> requests.Response:
    """A signed HEAD on the bucket, path style (MinIO needs it; Spaces and AWS accept it)."""
    url = f"{endpoint.rstrip('/')}/{quote(bucket)}"
    return requests.head(url, headers=sign_v4("HEAD", url, access_key, secret_key, region), timeout=timeout)
