"""Stand-in for Gotenberg 8 (tests and the local run only; see ../README.md).

The contract Supermark's conversion task uses, on :3000:
  GET  /health                     {"status": "up", "details": {"chromium": ..., "libreoffice": ...}}
  POST /forms/libreoffice/convert  multipart/form-data: `files` parts (or `downloadFrom`, a JSON list
                                   of {"url"}: fetched like Gotenberg does); answers application/pdf,
                                   400 for no file or an extension LibreOffice does not take, 401
                                   without the basic auth when GOTENBERG_API_BASIC_AUTH_USERNAME is set
The PDF is real (one page per 50 lines of the document's text: .txt, .docx, .odt; other Office files
give a page naming the file): the stand-in has no LibreOffice, so layout is not rendered.
Python standard library only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import urllib.parse
import urllib.request
import zipfile
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import PurePosixPath

# The extensions Gotenberg's LibreOffice route accepts (a subset of its list: the Office ones).
EXTENSIONS = {".doc", ".docx", ".odt", ".rtf", ".txt", ".ppt", ".pptx", ".odp", ".xls", ".xlsx", ".ods",
              ".csv", ".key", ".pages", ".numbers", ".html", ".xml", ".wpd", ".dotx", ".potx", ".xltx"}


def text_of(name: str, data: bytes) -> str:
    ext = PurePosixPath(name).suffix.lower()
    if ext == ".txt":
        return data.decode("utf-8", "replace")
    if ext in (".docx", ".odt"):
        inner = "word/document.xml" if ext == ".docx" else "content.xml"
        with zipfile.ZipFile(BytesIO(data)) as z:
            xml = z.read(inner).decode("utf-8", "replace")
        xml = re.sub(r"</(w:p|text:p|text:h)>", "\n", xml)
        return re.sub(r"<[^>]+>", "", xml)
    return f"{name} (converted by the Gotenberg stand-in; layout not rendered)"


def pdf(text: str) -> bytes:
    """A valid PDF: one page per 50 lines, Helvetica."""
    lines = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in text.splitlines()] or [""]
    pages = [lines[i : i + 50] for i in range(0, len(lines), 50)]
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for page in pages:
        stream = "BT /F1 11 Tf 50 800 Td 14 TL " + " ".join(f"({ln[:100]}) '" for ln in page) + " ET"
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objs)} 0 R "
                    "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{obj}\nendobj\n".encode("latin-1", "replace"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{o:010d} 00000 n \n" for o in offsets).encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write("%s\n" % (fmt % args))

    def _send(self, status: int, body: bytes, kind: str = "text/plain; charset=UTF-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            now = datetime.now(UTC).isoformat()
            up = {"status": "up", "timestamp": now}
            body = {"status": "up", "details": {"chromium": up, "libreoffice": up}}
            return self._send(200, json.dumps(body).encode(), "application/json")
        self._send(404, b"Not Found")

    def _authorized(self) -> bool:
        user = os.environ.get("GOTENBERG_API_BASIC_AUTH_USERNAME")
        if not user:
            return True
        want = base64.b64encode(f"{user}:{os.environ.get('GOTENBERG_API_BASIC_AUTH_PASSWORD', '')}".encode())
        return self.headers.get("Authorization", "") == "Basic " + want.decode()

    def do_POST(self) -> None:
        if self.path != "/forms/libreoffice/convert":
            return self._send(404, b"Not Found")
        if not self._authorized():
            return self._send(401, b"Unauthorized")
        kind = self.headers.get("Content-Type", "")
        if not kind.startswith("multipart/form-data"):
            return self._send(400, b"Invalid form data: expected multipart/form-data")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + raw)
        files: list[tuple[str, bytes]] = []
        for part in message.iter_parts():
            field = part.get_param("name", header="content-disposition")
            if field == "files" and part.get_filename():
                files.append((part.get_filename(), part.get_payload(decode=True) or b""))
            elif field == "downloadFrom":
                for item in json.loads(part.get_content()):
                    with urllib.request.urlopen(item["url"], timeout=30) as resp:  # noqa: S310
                        name = PurePosixPath(urllib.parse.urlsplit(item["url"]).path).name
                        files.append((name, resp.read()))
        if not files:
            return self._send(400, b"Invalid form data: no form file found for extensions: " +
                              ", ".join(sorted(EXTENSIONS)).encode())
        bad = [n for n, _ in files if PurePosixPath(n).suffix.lower() not in EXTENSIONS]
        if bad:
            return self._send(400, f"Invalid form data: no form file found for extensions ({bad[0]})".encode())
        text = "\n".join(text_of(n, d) for n, d in files)
        self._send(200, pdf(text), "application/pdf")


def main() -> None:
    port = int(os.environ.get("PORT", "3000"))
    print(f"stand-in Gotenberg listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
