"""`supermark-ops check SERVICE`: an outside service checked before a deploy turns it on (the
supermark role runs it on the host, where the app will connect from), or by an operator.

    supermark-ops check tinybird --api-url URL    the app's token has exactly its three scopes
    supermark-ops check trigger --api-url URL     DNS, TLS and the secret key (401)
    supermark-ops check qstash --api-url URL      the token and both signing keys
    supermark-ops check gotenberg --url URL       /health, LibreOffice up

    supermark-ops trigger deployed ...            is this source's version the current one?
    supermark-ops trigger deploy ...              deploy the tasks with the pinned CLI

Secrets come from the environment or, with --secrets-stdin, from a JSON object on standard
input (never argv, which every user can read): TINYBIRD_TOKEN and TINYBIRD_ADMIN_TOKEN;
TRIGGER_SECRET_KEY; QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY: the
names the app reads; TRIGGER_ACCESS_TOKEN for `trigger`, the name the trigger.dev CLI reads.
The supermark role uses stdin: Ansible's `environment:` puts each value in the remote command
line, which sudo logs and `ps` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from supermark_ops import http, results
from supermark_ops.external import checks, trigger_deploy

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


def _secrets(names: tuple[str, ...], from_stdin: bool, command: str) -> dict[str, str]:
    """The secrets by name: from the environment, or from a JSON object on stdin."""
    if not from_stdin:
        return {name: os.environ.get(name, "") for name in names}
    try:
        given = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"supermark-ops {command}: standard input is not JSON ({exc.msg})") from None
    if not isinstance(given, dict):
        raise SystemExit(f"supermark-ops {command}: standard input must be a JSON object")
    return {name: str(given.get(name) or "") for name in names}


def check_command(args: argparse.Namespace) -> int:
    env = _secrets(SECRETS[args.service], args.secrets_stdin, f"check {args.service}")
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


def add_trigger_parser(sub: Any) -> None:
    trigger = sub.add_parser(
        "trigger", help="deploy Supermark's background tasks to Trigger.dev (playbooks/trigger.yml)"
    )
    verbs = trigger.add_subparsers(dest="verb", metavar="VERB", required=True)
    deployed = verbs.add_parser(
        "deployed", help="say whether RELEASE's deployed version is still the current one"
    )
    deploy = verbs.add_parser("deploy", help="deploy the tasks of a source tree with the trigger.dev CLI")
    deploy.add_argument("--source", required=True, type=Path, help="the app's source of RELEASE, installed")
    deploy.add_argument("--cli", required=True, type=Path, help="the pinned CLI (node_modules/.bin/trigger)")
    for one in (deployed, deploy):
        one.add_argument("--release", required=True, help="the source's name: its commit and patches")
        one.add_argument("--project-ref", required=True, help="the Trigger.dev project (proj_...)")
        one.add_argument("--env", default="prod", choices=["prod", "staging"], help="default prod")
        one.add_argument(
            "--api-url", default="https://api.trigger.dev", help="default https://api.trigger.dev"
        )
        one.add_argument(
            "--record", required=True, type=Path, help="the control-side record of the last deploy"
        )
        one.add_argument(
            "--secrets-stdin",
            action="store_true",
            help="read TRIGGER_ACCESS_TOKEN from a JSON object on standard input, not the environment",
        )
    trigger.set_defaults(handler=trigger_command)


def trigger_command(args: argparse.Namespace) -> int:
    secrets = _secrets(("TRIGGER_ACCESS_TOKEN",), args.secrets_stdin, f"trigger {args.verb}")
    token = secrets["TRIGGER_ACCESS_TOKEN"]
    target = trigger_deploy.Target(args.api_url, args.project_ref, args.env)
    fields = {
        "release": args.release,
        "project_ref": args.project_ref,
        "env": args.env,
        "api_url": args.api_url,
    }
    try:
        problem = trigger_deploy.token_problem(token)
        if problem:
            raise trigger_deploy.TriggerDeployError(problem)
        if args.verb == "deployed":
            last = trigger_deploy.deployed(args.record, target, args.release, token)
            outcome = results.ok(**fields, deployed=last is not None, version=(last or {}).get("version", ""))
        else:
            args.record.parent.mkdir(parents=True, exist_ok=True)
            outcome = trigger_deploy.deploy(args.source, args.cli, target, args.release, token, args.record)
    except trigger_deploy.TriggerDeployError as exc:
        print(results.dumps(results.failed(str(exc), **fields)))
        return 1
    print(results.dumps(outcome))
    return 0
