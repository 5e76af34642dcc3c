"""The outside services' checks (supermark_ops.external) against the stand-ins of Tinybird,
Trigger.dev and QStash (images/standins/saas) and of Gotenberg (images/standins/gotenberg), with
good and bad answers, over plain HTTP and TLS; and `supermark-ops check` as the role runs it."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from io import BytesIO
from typing import Any

import pytest
import trustme

from servers import free_port, gotenberg_module, saas_server
from supermark_ops import external

APP_SCOPES = [{"type": "DATASOURCES:READ"}, {"type": "DATASOURCES:APPEND"}, {"type": "PIPES:READ"}]
WORLD: dict[str, Any] = {
    "tinybird_tokens": [
        {"name": "workspace admin", "token": "p.admin", "scopes": [{"type": "ADMIN"}]},
        {"name": "supermark", "token": "p.app", "scopes": APP_SCOPES},
        {"name": "too broad", "token": "p.broad", "scopes": [*APP_SCOPES, {"type": "DATASOURCES:CREATE"}]},
        {
            "name": "read only",
            "token": "p.read",
            "scopes": [{"type": "DATASOURCES:READ"}, {"type": "PIPES:READ"}],
        },
        {"name": "pipes only", "token": "p.pipes", "scopes": [{"type": "PIPES:READ"}]},
    ],
    "trigger_keys": ["tr_prod_good"],
    "qstash": {"token": "qstash-token", "current": "sig_current", "next": "sig_next"},
}


@pytest.fixture(scope="module")
def saas() -> Iterator[str]:
    server = saas_server(WORLD)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# -- Tinybird: the token's scopes, checked with the admin token ------------------------


def test_tinybird_exact_scopes_pass(saas: str) -> None:
    assert external.tinybird_scopes(saas, "p.app", "p.admin") == ""


def test_tinybird_broader_scope_is_named(saas: str) -> None:
    problem = external.tinybird_scopes(saas, "p.broad", "p.admin")
    assert "token 'too broad' has the scope DATASOURCES:CREATE, broader than the app needs" in problem


def test_tinybird_missing_scope_is_named(saas: str) -> None:
    problem = external.tinybird_scopes(saas, "p.read", "p.admin")
    assert "token 'read only' lacks the scope DATASOURCES:APPEND" in problem


def test_tinybird_unknown_token(saas: str) -> None:
    assert "is not a token of this workspace" in external.tinybird_scopes(saas, "p.nope", "p.admin")


def test_tinybird_admin_token_without_the_right(saas: str) -> None:
    """Tinybird's Token API needs ADMIN or TOKENS: a plain token is refused, and we say which."""
    problem = external.tinybird_scopes(saas, "p.app", "p.pipes")
    assert "refused the admin token (403)" in problem and "ADMIN or TOKENS" in problem


def test_tinybird_app_token_as_the_monitor_asks(saas: str) -> None:
    assert external.tinybird_token(saas, "p.app") == ""
    assert "refused the app's token (403)" in external.tinybird_token(saas, "p.gone")


# -- Trigger.dev: DNS, TCP, TLS, then the key ----------------------------------------


def test_trigger_good_and_refused_key(saas: str) -> None:
    assert external.trigger(saas, "tr_prod_good") == ""
    problem = external.trigger(saas, "tr_prod_revoked")
    assert problem.startswith("Trigger.dev refused the secret key (401)")


def test_trigger_dns() -> None:
    problem = external.trigger("https://api.trigger.invalid", "tr_prod_good", timeout=3)
    assert problem.startswith("Trigger.dev: DNS: api.trigger.invalid does not resolve")


def test_trigger_nothing_listening() -> None:
    problem = external.trigger(f"http://127.0.0.1:{free_port()}", "tr_prod_good", timeout=3)
    assert problem.startswith("Trigger.dev: TCP: 127.0.0.1:") and "does not accept connections" in problem


@pytest.fixture(scope="module")
def tls_saas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """The stand-in over HTTPS with a certificate for localhost from a private CA."""
    ca = trustme.CA()
    cafile = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    server = saas_server(WORLD)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield server.server_address[1], str(cafile)
    server.shutdown()


def test_trigger_tls(tls_saas: tuple[int, str]) -> None:
    port, cafile = tls_saas
    assert external.trigger(f"https://localhost:{port}", "tr_prod_good", verify=cafile) == ""
    untrusted = external.trigger(f"https://localhost:{port}", "tr_prod_good", timeout=3)
    assert untrusted.startswith("Trigger.dev: TLS: the certificate of localhost does not verify")
    plain = external.trigger(f"https://127.0.0.1:{free_port_plain_http()}", "tr_prod_good", timeout=3)
    assert plain.startswith("Trigger.dev: TLS: the handshake with 127.0.0.1:")


def free_port_plain_http() -> int:
    """A plain HTTP server: what a TLS client meets behind a wrong port or a broken proxy."""
    server = saas_server(WORLD)
    threading.Timer(10, server.shutdown).start()
    return int(server.server_address[1])


# -- QStash ----------------------------------------------------------------------------


def test_qstash_token_and_keys(saas: str) -> None:
    assert external.qstash(saas, "qstash-token", "sig_current", "sig_next") == ""
    assert "refused the token (401)" in external.qstash(saas, "wrong", "sig_current", "sig_next")
    wrong_key = external.qstash(saas, "qstash-token", "sig_current", "sig_old")
    assert "supermark_qstash_next_signing_key differ from the keys QStash signs with" in wrong_key


# -- Gotenberg -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gotenberg() -> Iterator[str]:
    mod = gotenberg_module()
    server = ThreadingHTTPServer(("127.0.0.1", 0), mod.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = BytesIO()
    for name, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'.encode()
        )
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def convert(base: str, files: list[tuple[str, bytes]]) -> tuple[int, bytes]:
    body, kind = multipart(files)
    req = urllib.request.Request(
        base + "/forms/libreoffice/convert", data=body, headers={"Content-Type": kind}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def docx(text: str) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "word/document.xml", f"<w:document><w:body><w:p><w:t>{text}</w:t></w:p></w:body></w:document>"
        )
    return out.getvalue()


def test_gotenberg_health_and_conversion(gotenberg: str) -> None:
    assert external.gotenberg(gotenberg) == ""
    status, pdf = convert(gotenberg, [("offer.docx", docx("Quarterly offer"))])
    assert status == 200 and pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"(Quarterly offer)" in pdf
    assert convert(gotenberg, [("virus.exe", b"MZ")])[0] == 400
    assert convert(gotenberg, [])[0] == 400
    assert "Gotenberg: TCP" in external.gotenberg(f"http://127.0.0.1:{free_port()}", timeout=2)


# -- the command the role runs ------------------------------------------------------------


def check(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supermark_ops.cli", "check", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        input=stdin,
        timeout=60,
    )


def test_cli_reads_secrets_from_the_environment(saas: str) -> None:
    good = check(
        "tinybird", "--api-url", saas, env={"TINYBIRD_TOKEN": "p.app", "TINYBIRD_ADMIN_TOKEN": "p.admin"}
    )
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True
    broad = check(
        "tinybird", "--api-url", saas, env={"TINYBIRD_TOKEN": "p.broad", "TINYBIRD_ADMIN_TOKEN": "p.admin"}
    )
    assert broad.returncode == 1 and "DATASOURCES:CREATE" in json.loads(broad.stdout)["reason"]
    assert "p.broad" not in broad.stdout + broad.stderr  # the refusal names the scope, never the token
    missing = check("qstash", "--api-url", saas, env={"QSTASH_TOKEN": "qstash-token"})
    assert (
        missing.returncode == 2
        and "set QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY" in missing.stderr
    )
    refused = check("trigger", "--api-url", saas, env={"TRIGGER_SECRET_KEY": "tr_prod_x"})
    assert refused.returncode == 1 and "(401)" in json.loads(refused.stdout)["reason"]


def test_cli_reads_secrets_from_stdin_as_the_role_passes_them(saas: str) -> None:
    """The supermark role's way (roles/supermark/tasks/services.yml): a JSON object on stdin, as
    Ansible's `environment:` would put the values in the remote command line sudo logs."""
    clean = {"TINYBIRD_TOKEN": "", "TINYBIRD_ADMIN_TOKEN": "", "TRIGGER_SECRET_KEY": ""}
    good = check(
        "tinybird", "--api-url", saas, "--secrets-stdin", env=clean,
        stdin=json.dumps({"TINYBIRD_TOKEN": "p.app", "TINYBIRD_ADMIN_TOKEN": "p.admin"}),
    )  # fmt: skip
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True, good.stderr
    # The environment is not read with --secrets-stdin: a key only there counts as missing.
    key_in_env = {"TRIGGER_SECRET_KEY": "tr_prod_good"}
    only_env = check("trigger", "--api-url", saas, "--secrets-stdin", env=key_in_env, stdin="{}")
    assert only_env.returncode == 2
    assert "set TRIGGER_SECRET_KEY in the JSON on standard input" in only_env.stderr
    bad_key = '{"TRIGGER_SECRET_KEY": "tr_prod_x"}'
    refused = check("trigger", "--api-url", saas, "--secrets-stdin", env=clean, stdin=bad_key)
    assert refused.returncode == 1 and "(401)" in json.loads(refused.stdout)["reason"]
    garbage = check("trigger", "--api-url", saas, "--secrets-stdin", env=clean, stdin="TRIGGER_SECRET_KEY=x")
    assert garbage.returncode != 0 and "standard input is not JSON" in garbage.stderr
