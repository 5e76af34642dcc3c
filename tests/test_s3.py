"""Our SigV4 signer agrees with botocore's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from supermark_ops.s3 import sign_v4

WHEN = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def botocore_authorization(method: str, url: str, region: str) -> str:
    """botocore's SigV4 for S3 at a fixed time (its add_auth would read the clock)."""
    request = AWSRequest(method=method, url=url)
    signer = S3SigV4Auth(Credentials(KEY, SECRET), "s3", region)
    request.context["timestamp"] = WHEN.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = signer.scope(request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    return f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"


@pytest.mark.parametrize(
    ("method", "url", "region"),
    [
        ("HEAD", "http://127.0.0.1:9000/supermark", "us-east-1"),
        ("GET", "https://files.example.com/supermark/docs/report.pdf", "us-east-1"),
        ("HEAD", "https://fra1.digitaloceanspaces.com/backups", "fra1"),
    ],
)
def test_signature_matches_botocore(method: str, url: str, region: str) -> None:
    ours = sign_v4(method, url, KEY, SECRET, region, now=WHEN)
    assert ours["Authorization"] == botocore_authorization(method, url, region)


def test_a_different_secret_gives_a_different_signature() -> None:
    url = "http://127.0.0.1:9000/supermark"
    assert sign_v4("HEAD", url, KEY, SECRET, "us-east-1", now=WHEN) != sign_v4(
        "HEAD", url, KEY, SECRET + "x", "us-east-1", now=WHEN
    )
