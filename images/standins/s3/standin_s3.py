"""Stand-in for MinIO in tests and the local run (see ../README.md).

A small S3-compatible server, standard library only, that does what moto does
not: it VERIFIES AWS Signature V4, for signed headers and for presigned URLs
(with their expiry), against the Host header as received, so a proxy that
rewrites Host or a tampered URL is refused the way MinIO refuses it. Buckets
are private; users, policies and anonymous access are set through `mc`
(the stand-in in this image). Objects live under /data, so they survive a
restart like MinIO's.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

DATA = Path(os.environ.get("STANDIN_DATA", "/data"))
IAM_FILE = DATA / ".standin-iam.json"
META = DATA / ".standin-meta"
REGION = os.environ.get("MINIO_REGION", "us-east-1")
ADMIN_PATH = "/minio/admin/standin"
LOCK = threading.Lock()


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str) -> bytes:
    return _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), "s3"), "aws4_request")


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    enc = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def string_to_sign(method: str, path: str, query: str, headers: dict[str, str], signed: list[str],
                   payload: str, amz_date: str, scope: str) -> str:
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    canonical = "\n".join([method, path, query, canon_headers, ";".join(signed), payload])
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def sign_request(method: str, url: str, access: str, secret: str, body: bytes = b"") -> dict[str, str]:
    """Client side, for the stand-in mc: signed headers for one request."""
    parts = urlsplit(url)
    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = sorted(headers)
    scope = f"{day}/{REGION}/s3/aws4_request"
    query = canonical_query(parse_qsl(parts.query, keep_blank_values=True))
    sts = string_to_sign(method, parts.path or "/", query, headers, signed, payload, amz_date, scope)
    sig = hmac.new(signing_key(secret, day, REGION), sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return headers


# ---- identity and access ---------------------------------------------------------------

def load_iam() -> dict:
    try:
        return json.loads(IAM_FILE.read_text())
    except FileNotFoundError:
        return {"users": {}, "policies": {}, "anonymous": {}}


def save_iam(iam: dict) -> None:
    write_atomic(IAM_FILE, json.dumps(iam, indent=1).encode())


def secret_for(access: str) -> str | None:
    if access == os.environ.get("MINIO_ROOT_USER"):
        return os.environ.get("MINIO_ROOT_PASSWORD")
    user = load_iam()["users"].get(access)
    return user["secret"] if user else None


def allowed(access: str | None, action: str, bucket: str, key: str) -> bool:
    if access is not None and access == os.environ.get("MINIO_ROOT_USER"):
        return True
    iam = load_iam()
    if access is None:
        return action == "s3:GetObject" and iam["anonymous"].get(bucket) in ("download", "public")
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
    for name in iam["users"].get(access, {}).get("policies", []):
        for st in iam["policies"].get(name, {}).get("Statement", []):
            actions = st.get("Action", [])
            resources = st.get("Resource", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources = [resources] if isinstance(resources, str) else resources
            if (st.get("Effect") == "Allow"
                    and any(fnmatch.fnmatchcase(action, a) for a in actions)
                    and any(fnmatch.fnmatchcase(resource, r) for r in resources)):
                return True
    return False


def authenticate(method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes) -> str | None:
    """The access key that signed this request, None if unsigned; S3Error if the signature is wrong."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    q = dict(pairs)
    now = datetime.now(UTC)
    if "X-Amz-Signature" in q:
        try:
            access, day, region, _, _ = q["X-Amz-Credential"].split("/")
            amz_date, expires = q["X-Amz-Date"], int(q["X-Amz-Expires"])
            signed, given = q["X-Amz-SignedHeaders"].split(";"), q["X-Amz-Signature"]
        except (KeyError, ValueError) as exc:
            raise S3Error(400, "AuthorizationQueryParametersError", "bad presigned URL") from exc
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if now > signed_at + timedelta(seconds=expires):
            raise S3Error(403, "AccessDenied", "Request has expired")
        payload = "UNSIGNED-PAYLOAD"
        query = canonical_query([(k, v) for k, v in pairs if k != "X-Amz-Signature"])
    elif "authorization" in headers:
        try:
            algo, rest = headers["authorization"].split(" ", 1)
            fields = dict(p.strip().split("=", 1) for p in rest.split(","))
            access, day, region, _, _ = fields["Credential"].split("/")
            signed, given = fields["SignedHeaders"].split(";"), fields["Signature"]
            amz_date = headers["x-amz-date"]
        except (KeyError, ValueError) as exc:
            raise S3Error(400, "AuthorizationHeaderMalformed", "bad Authorization header") from exc
        if algo != "AWS4-HMAC-SHA256":
            raise S3Error(400, "AuthorizationHeaderMalformed", "only AWS4-HMAC-SHA256 is supported")
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if abs(now - signed_at) > timedelta(minutes=15):
            raise S3Error(403, "RequestTimeTooSkewed", "request time too far from server time")
        payload = headers.get("x-amz-content-sha256", "")
        if payload.startswith("STREAMING-"):
            raise S3Error(501, "NotImplemented", "aws-chunked uploads are not in this stand-in")
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            raise S3Error(400, "XAmzContentSHA256Mismatch", "payload hash does not match")
        query = canonical_query(pairs)
    else:
        return None
    if "host" not in signed:
        raise S3Error(403, "AccessDenied", "host must be signed")
    secret = secret_for(access)
    if secret is None:
        raise S3Error(403, "InvalidAccessKeyId", "unknown access key")
    sts = string_to_sign(method, raw_path, query, headers, signed, payload, amz_date,
                         f"{day}/{region}/s3/aws4_request")
    want = hmac.new(signing_key(secret, day, region), sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, given):
        raise S3Error(403, "SignatureDoesNotMatch", "the request signature does not match")
    return access


# ---- storage ---------------------------------------------------------------------------

def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def obj_path(bucket: str, key: str) -> Path:
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")[:-1]) or key.endswith("/"):
        raise S3Error(400, "InvalidObjectName", "object name not supported by this stand-in")
    return DATA / bucket / key


def bucket_dir(bucket: str) -> Path:
    if not bucket or bucket.startswith(".") or "/" in bucket:
        raise S3Error(400, "InvalidBucketName", "bad bucket name")
    return DATA / bucket


class Handler(BaseHTTPRequestHandler):
    server_version = "standin-s3"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        length = headers.pop("Content-Length", str(len(body)))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        origin = self.headers.get("Origin")
        if origin and self._origin_allowed(origin):
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, err: S3Error) -> None:
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{err.code}</Code>"
                f"<Message>{escape(err.message)}</Message></Error>").encode()
        self._send(err.status, body, {"Content-Type": "application/xml"})

    @staticmethod
    def _origin_allowed(origin: str) -> bool:
        allow = [o.strip() for o in os.environ.get("MINIO_API_CORS_ALLOW_ORIGIN", "*").split(",")]
        return "*" in allow or origin in allow

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin", "")
        if not self._origin_allowed(origin):
            return self._error(S3Error(403, "AccessDenied", "CORSResponse: origin not allowed"))
        self._send(200, b"", {
            "Access-Control-Allow-Methods": "GET, PUT, HEAD, POST, DELETE",
            "Access-Control-Allow-Headers": self.headers.get("Access-Control-Request-Headers", "*"),
            "Access-Control-Max-Age": "3600",
        })

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                # A body cut short (a proxy's size limit, a dropped client) is never stored.
                self.close_connection = True
                raise S3Error(400, "IncompleteBody", "fewer bytes than Content-Length arrived")
            raw_path, _, raw_query = self.path.partition("?")
            if raw_path == "/minio/health/live":
                return self._send(200)
            headers = {k.lower(): v for k, v in self.headers.items()}
            access = authenticate(self.command, raw_path, raw_query, headers, body)
            if raw_path == ADMIN_PATH:
                return self._admin(access, body)
            parts = unquote(raw_path).lstrip("/").split("/", 1)
            bucket, key = parts[0], parts[1] if len(parts) > 1 else ""
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
            self._s3(access, bucket, key, query, body)
        except S3Error as err:
            self._error(err)

    def _need(self, access: str | None, action: str, bucket: str, key: str = "") -> None:
        if not allowed(access, action, bucket, key):
            raise S3Error(403, "AccessDenied", "Access Denied.")

    def _s3(self, access: str | None, bucket: str, key: str, query: dict[str, str], body: bytes) -> None:
        cmd = self.command
        if not bucket:
            if access is None or access != os.environ.get("MINIO_ROOT_USER"):
                raise S3Error(403, "AccessDenied", "Access Denied.")
            names = sorted(p.name for p in DATA.iterdir() if p.is_dir() and not p.name.startswith("."))
            xml = "".join(f"<Bucket><Name>{escape(n)}</Name></Bucket>" for n in names)
            return self._send(200, f"<ListAllMyBucketsResult><Buckets>{xml}</Buckets></ListAllMyBucketsResult>"
                              .encode(), {"Content-Type": "application/xml"})
        bdir = bucket_dir(bucket)
        if not key:
            if cmd == "PUT":
                self._need(access, "s3:CreateBucket", bucket)
                if bdir.exists():
                    raise S3Error(409, "BucketAlreadyOwnedByYou", "bucket exists")
                bdir.mkdir(parents=True)
                return self._send(200, b"", {"Location": f"/{bucket}"})
            self._need(access, "s3:ListBucket" if cmd in ("GET", "HEAD") else "s3:DeleteBucket", bucket)
            if not bdir.is_dir():
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
            if cmd == "HEAD":
                return self._send(200)
            if cmd == "DELETE":
                bdir.rmdir()
                return self._send(204)
            if "location" in query:
                return self._send(200, b"<LocationConstraint/>", {"Content-Type": "application/xml"})
            return self._list(bucket, bdir, query)
        path = obj_path(bucket, key)
        if not bdir.is_dir():
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        meta_path = META / bucket / (key + ".json")
        if cmd == "PUT":
            self._need(access, "s3:PutObject", bucket, key)
            etag = hashlib.md5(body).hexdigest()
            with LOCK:
                write_atomic(path, body)
                write_atomic(meta_path, json.dumps({
                    "etag": etag, "type": self.headers.get("Content-Type", "binary/octet-stream"),
                }).encode())
            return self._send(200, b"", {"ETag": f'"{etag}"'})
        if cmd == "DELETE":
            self._need(access, "s3:DeleteObject", bucket, key)
            path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return self._send(204)
        self._need(access, "s3:GetObject", bucket, key)
        if not path.is_file():
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        data = path.read_bytes()
        headers = {
            "ETag": f'"{meta.get("etag") or hashlib.md5(data).hexdigest()}"',
            "Content-Type": meta.get("type", "binary/octet-stream"),
            "Last-Modified": formatdate(path.stat().st_mtime, usegmt=True),
            "Content-Length": str(len(data)),
        }
        self._send(200, data, headers)

    def _list(self, bucket: str, bdir: Path, query: dict[str, str]) -> None:
        prefix = query.get("prefix", "")
        after = query.get("continuation-token") or query.get("start-after", "")
        max_keys = int(query.get("max-keys", "1000"))
        keys = sorted(str(p.relative_to(bdir)) for p in bdir.rglob("*")
                      if p.is_file() and not p.name.startswith(".tmp-"))
        keys = [k for k in keys if k.startswith(prefix) and k > after]
        page, more = keys[:max_keys], len(keys) > max_keys
        items = []
        for k in page:
            st = (bdir / k).stat()
            meta_path = META / bucket / (k + ".json")
            etag = json.loads(meta_path.read_text())["etag"] if meta_path.exists() else ""
            modified = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            items.append(f"<Contents><Key>{escape(k)}</Key><LastModified>{modified}</LastModified>"
                         f"<ETag>&quot;{etag}&quot;</ETag><Size>{st.st_size}</Size></Contents>")
        token = f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>" if more else ""
        xml = (f"<ListBucketResult><Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
               f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
               f"<IsTruncated>{str(more).lower()}</IsTruncated>{token}{''.join(items)}</ListBucketResult>")
        self._send(200, xml.encode(), {"Content-Type": "application/xml"})

    def _admin(self, access: str | None, body: bytes) -> None:
        """Users, policies and anonymous access: root only, like MinIO's admin API."""
        if access is None or access != os.environ.get("MINIO_ROOT_USER"):
            raise S3Error(403, "AccessDenied", "admin API needs the root credentials")
        req = json.loads(body or b"{}")
        # Fault injection for tests: the admin operations named here fail as a server error would.
        if req.get("op") in os.environ.get("STANDIN_FAIL_ADMIN_OPS", "").split(","):
            raise S3Error(500, "InternalError", f"injected failure of {req.get('op')}")
        with LOCK:
            iam = load_iam()
            op, out = req.get("op"), {}
            if op == "add-user":
                iam["users"].setdefault(req["access"], {"policies": []})["secret"] = req["secret"]
            elif op == "user-info":
                user = iam["users"].get(req["access"])
                if user is None:
                    raise S3Error(404, "XMinioAdminNoSuchUser", "The specified user does not exist.")
                out = {"accessKey": req["access"], "policyName": ",".join(user["policies"])}
            elif op == "add-policy":
                iam["policies"][req["name"]] = req["policy"]
            elif op == "attach":
                user = iam["users"].get(req["access"])
                if user is None:
                    raise S3Error(404, "XMinioAdminNoSuchUser", "The specified user does not exist.")
                if req["name"] not in iam["policies"]:
                    raise S3Error(404, "XMinioAdminNoSuchPolicy", "The canned policy does not exist.")
                if req["name"] in user["policies"]:
                    raise S3Error(400, "XMinioAdminPolicyChangeAlreadyApplied",
                                  "The specified policy change is already in effect.")
                user["policies"].append(req["name"])
            elif op == "set-anonymous":
                iam["anonymous"][req["bucket"]] = req["level"]
            elif op == "get-anonymous":
                out = {"level": iam["anonymous"].get(req["bucket"], "private")}
            else:
                raise S3Error(400, "InvalidRequest", f"unknown admin op {op!r}")
            save_iam(iam)
        self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})


def admin_call(url: str, access: str, secret: str, req: dict) -> tuple[int, dict]:
    body = json.dumps(req).encode()
    target = url.rstrip("/") + ADMIN_PATH
    http_req = urllib.request.Request(target, data=body, method="POST",
                                      headers=sign_request("POST", target, access, secret, body))
    try:
        with urllib.request.urlopen(http_req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {"error": err.read().decode(errors="replace")}


def main() -> None:
    if not os.environ.get("MINIO_ROOT_USER") or len(os.environ.get("MINIO_ROOT_PASSWORD", "")) < 8:
        sys.exit("stand-in s3: MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (8+ chars) are required, as for MinIO")
    DATA.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("STANDIN_PORT", "9000"))
    print(f"stand-in s3 listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
