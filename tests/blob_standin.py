"""Stand-in for Vercel Blob's URLs (tests and the stack scenario; standard library only).

What the documents' migration uses of Blob, it does as Blob does: GET and HEAD of
`/<pathname>` answer the blob's bytes with Content-Length, Content-Type and an ETag; a blob
that is not there answers 404; a private store (a token given) answers 403 to a request
without `Authorization: Bearer <token>`. It serves a folder, over HTTP or (given a TLS
context) HTTPS. It counts the GETs each path got, and can be slowed down per response.

    python3 blob_standin.py FOLDER PORT      (the token, if any, from STANDIN_BLOB_TOKEN)
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import ssl
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


class BlobStandIn:
    def __init__(self, root: Path, token: str = "", delay: float = 0.0) -> None:
        self.root, self.token, self.delay = root, token, delay
        self.gets: Counter[str] = Counter()  # completed GETs per path
        self.refused = 0  # requests without the token, when there is one
        self.url = ""

    def put(self, name: str, data: bytes) -> str:
        """A blob, as the app's upload left it; its public URL."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{name}"

    def start(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0) -> str:
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, head: bool) -> None:
                if store.token and self.headers.get("Authorization") != f"Bearer {store.token}":
                    store.refused += 1
                    return self._send(403, b"Forbidden", "text/plain")
                name = unquote(urlsplit(self.path).path).lstrip("/")
                path = (store.root / name).resolve()
                if not name or store.root.resolve() not in path.parents or not path.is_file():
                    return self._send(404, b"The requested blob does not exist", "text/plain")
                data = path.read_bytes()
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(200, data, kind, head, etag=hashlib.sha256(data).hexdigest()[:32])
                if not head:
                    store.gets[name] += 1

            def _send(self, status: int, body: bytes, kind: str, head: bool = False, etag: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", f'"{etag}"')
                self.end_headers()
                if not head:
                    time.sleep(store.delay)
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(head=False)

            def do_HEAD(self) -> None:
                self._answer(head=True)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        bound = self._server.server_address[1]
        self.url = f"https://localhost:{bound}" if tls is not None else f"http://{host}:{bound}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    store = BlobStandIn(Path(sys.argv[1]), token=os.environ.get("STANDIN_BLOB_TOKEN", ""))
    print(f"stand-in blob store listening on :{sys.argv[2]}", flush=True)
    store.start(host="0.0.0.0", port=int(sys.argv[2]))
    threading.Event().wait()
