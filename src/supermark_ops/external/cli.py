"""`supermark-ops check SERVICE`: an outside service checked before a deploy turns it on (the
supermark role runs it on the host, where the app will connect from), or by an operator.

    supermark-ops check tinybird --api-url URL    the app's token has exactly its three scopes
    supermark-ops check trigger --api-url URL     DNS, TLS and the secret key (401)
    supermark-ops check qstash --api-url URL      the token and both signing keys
    supermark-ops check gotenberg --url URL       /health, LibreOffice up

Secrets come from the environment or, with --secrets-stdin, from a JSON object on standard
input (never argv, which every user can read): TINYBIRD_TOKEN and TINYBIRD_ADMIN_TOKEN;
TRIGGER_SECRET_KEY; QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY: the
names the app reads. The supermark role uses stdin: Ansible's `environment:` puts each value in
the remote command line, which sudo logs and `ps` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from supermark_ops import http, results
from supermark_ops.external import checks

SECRETS = {
    "tinybird": ("TINYBIRD_TOKEN", "TINYBIRD_ADMIN_TOKEN"),
    "trigger": ("TRIGGER_SECRET_KEY",),
    "qstash": ("QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"),
    "gotenberg": (),
}


def add_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check", help="check an outside service (Tinybird, Trigger.dev, QStash, Gotenberg)"
    )
    services = check.add_subparsers(dest="service", metavar="SERVICE", required=True)
    for name, default in (
        ("tinybird", "https://api.tinybird.co"),
        ("trigger", "https://api.trigger.dev"),
        ("qstash", "https://qstash.upstash.io"),
    ):
        one = services.add_parser(name, help=f"check {name} (secrets from {', '.join(SECRETS[name])})")
        one.add_argument("--api-url", default=default, help=f"default {default}")
    gotenberg = services.add_parser("gotenberg", help="check a Gotenberg's /health")
    gotenberg.add_argument("--url", required=True, help="its base URL, e.g. http://gotenberg:3000")
    for one in services.choices.values():
        one.add_argument("--timeout", type=float, default=10, help="seconds per step (default 10)")
        one.add_argument("--ca-file", default="", help="a CA bundle to trust for HTTPS (a private CA)")
        one.add_argument(
            "--secrets-stdin",
            action="store_true",
            help="read the secrets as a JSON object on standard input ({NAME: value}), not the environment",
        )
    check.set_defaults(handler=check_command)


def _secrets(args: argparse.Namespace) -> dict[str, str]:
    if not args.secrets_stdin:
        return {name: os.environ.get(name, "") for name in SECRETS[args.service]}
    try:
        given = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"supermark-ops check {args.service}: standard input is not JSON ({exc.msg})"
        ) from None
    if not isinstance(given, dict):
        raise SystemExit(f"supermark-ops check {args.service}: standard input must be a JSON object")
    return {name: str(given.get(name) or "") for name in SECRETS[args.service]}


def check_command(args: argparse.Namespace) -> int:
    env = _secrets(args)
    missing = [name for name in SECRETS[args.service] if not env[name]]
    if missing:
        names = ", ".join(missing)
        where = "the JSON on standard input" if args.secrets_stdin else "the environment"
        print(f"supermark-ops check {args.service}: set {names} in {where}", file=sys.stderr)
        return 2
    t, verify = args.timeout, http.verify(args.ca_file)
    if args.service == "tinybird":
        problem = checks.tinybird_scopes(
            args.api_url, env["TINYBIRD_TOKEN"], env["TINYBIRD_ADMIN_TOKEN"], t, verify
        )
    elif args.service == "trigger":
        problem = checks.trigger(args.api_url, env["TRIGGER_SECRET_KEY"], t, verify)
    elif args.service == "qstash":
        problem = checks.qstash(
            args.api_url,
            env["QSTASH_TOKEN"],
            env["QSTASH_CURRENT_SIGNING_KEY"],
            env["QSTASH_NEXT_SIGNING_KEY"],
            t,
            verify,
        )
    else:
        problem = checks.gotenberg(args.url, t, verify)
    where = getattr(args, "api_url", None) or args.url
    outcome = (
        results.failed(problem, service=args.service, url=where)
        if problem
        else results.ok(service=args.service, url=where)
    )
    print(results.dumps(outcome))
    return 1 if problem else 0
