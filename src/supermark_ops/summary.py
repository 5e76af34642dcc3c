"""What a deployment has on and off: the summary at the end of every site.yml run.

The playbook hands over its settings as plain facts (booleans, counts and
non-secret names: never a secret's value). ``build`` turns them into items
that are on (with what is configured) or off (with why it matters, and the
flag that accepted it when it is an accepted risk); ``render`` makes the lines
printed at the end of the run; ``write`` keeps both as JSON on the control
side (0600), where playbooks/status.yml and the CLI read them back, so the
summary has one implementation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from supermark_ops import files

SCHEMA = 1


class SummaryError(ValueError):
    """The settings handed over are not what build() expects."""


@dataclass(frozen=True)
class Item:
    name: str
    on: bool
    detail: str  # on: what is configured; off: why it matters
    accepted_by: str = ""  # off: the flag that accepted this risk


def _get(settings: Mapping[str, Any], path: str, kind: type) -> Any:
    node: Any = settings
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise SummaryError(f"the summary's settings lack '{path}'")
        node = node[key]
    if kind is bool and isinstance(node, str):  # Ansible may hand over "True"
        node = node.strip().lower() in ("true", "yes", "1")
    if not isinstance(node, kind):
        raise SummaryError(f"the summary's setting '{path}' is {type(node).__name__}, not {kind.__name__}")
    return node


def _sign_in(s: Mapping[str, Any]) -> Item:
    methods = [
        label
        for key, label in (("email", "e-mail links (Resend)"), ("google", "Google"), ("linkedin", "LinkedIn"))
        if _get(s, f"sign_in.{key}", bool)
    ]
    passkeys = _get(s, "sign_in.passkeys", bool)
    if methods:
        extra = ", plus passkeys (Hanko) for signed-in users" if passkeys else ""
        return Item("sign-in", True, ", ".join(methods) + extra)
    accepted = _get(s, "sign_in.allow_none", bool)
    return Item(
        "sign-in",
        False,
        "nobody can sign in or sign up (no Resend key, no Google or LinkedIn OAuth client)",
        "supermark_allow_no_sign_in" if accepted else "",
    )


def _email(s: Mapping[str, Any]) -> Item:
    if not _get(s, "sign_in.email", bool):
        return Item(
            "e-mail", False, "the app sends no e-mail: no sign-in links, invitations or notifications"
        )
    records = _get(s, "email.dns_records", int)
    dns = (
        f"{records} sender-domain DNS records managed here"
        if records
        else "the sender domain's DNS records are not listed here (supermark_resend_dns_records)"
    )
    return Item("e-mail", True, f"through Resend; {dns}; Resend sends only from a domain verified there")


def _alerts(s: Mapping[str, Any]) -> Item:
    recipients = _get(s, "alerts.smtp_recipients", list)
    webhooks = _get(s, "alerts.webhooks", int)
    channels = []
    if recipients:
        channels.append("e-mail to " + ", ".join(str(r) for r in recipients))
    if webhooks:
        channels.append(f"{webhooks} webhook{'s' if webhooks > 1 else ''}")
    if channels:
        return Item("alerts", True, "; ".join(channels))
    return Item(
        "alerts",
        False,
        "failures the monitor and the backups find are only logged on the host; nobody is told",
        "monitor_allow_no_alerts" if _get(s, "alerts.allow_none", bool) else "",
    )


def _monitor(s: Mapping[str, Any]) -> Item:
    if _get(s, "monitor.enabled", bool):
        return Item("monitor", True, f"every {_get(s, 'monitor.interval_minutes', int)} min on the host")
    return Item("monitor", False, "nothing on the host checks the app, the database, storage or TLS")


def _backups(s: Mapping[str, Any]) -> list[Item]:
    if not _get(s, "backups.enabled", bool):
        return [Item("backups", False, "no backups at all: a lost disk loses every document and row")]
    items = [
        Item("backups", True, f"nightly on the host, restore drill weekly ({_get(s, 'backups.dir', str)})")
    ]
    offsite = _get(s, "backups.offsite", str)
    if not offsite:
        items.append(
            Item(
                "off-site copy",
                False,
                "backups stay on the droplet and are lost with it",
                "backup_allow_local_only" if _get(s, "backups.allow_local_only", bool) else "",
            )
        )
    elif _get(s, "backups.same_host", bool):
        items.append(
            Item(
                "off-site copy",
                False,
                f"{offsite} is on this droplet, so it is lost with it",
                "backup_offsite_same_host_ok",
            )
        )
    else:
        sealed = (
            "age-encrypted" if _get(s, "backups.encrypted", bool) else "NOT encrypted (backup_age_recipient)"
        )
        items.append(Item("off-site copy", True, f"{offsite}, {sealed}"))
    return items


def _watch(s: Mapping[str, Any]) -> Item:
    if not _get(s, "watch.provider", bool):
        return Item(
            "outside watch",
            False,
            "no DigitalOcean token: nothing outside the host notices when it dies",
        )
    if not _get(s, "watch.enabled", bool):
        return Item(
            "outside watch",
            False,
            "nothing outside the droplet notices when it dies",
            "droplet_watch_enabled",
        )
    emails = ", ".join(str(e) for e in _get(s, "watch.emails", list))
    return Item(
        "outside watch",
        True,
        f"DigitalOcean uptime check on https://{_get(s, 'domain', str)}/api/health (down, slow, TLS expiry) "
        f"and CPU/memory/disk alert policies, e-mailing {emails}",
    )


def _optional(s: Mapping[str, Any]) -> list[Item]:
    """The seed's later phases, each a switch (supermark_<phase>_enabled)."""
    items = []
    if _get(s, "services.jobs", bool):
        items.append(
            Item("background jobs", True, "Trigger.dev runs conversion and exports; Gotenberg in the stack")
        )
    else:
        items.append(
            Item("background jobs", False, "PDF/Office/video conversion and exports are skipped (jobs off)")
        )
    if _get(s, "services.analytics", bool):
        items.append(Item("analytics", True, "Tinybird (token scopes checked on every deploy)"))
    else:
        items.append(Item("analytics", False, "view analytics are not recorded (analytics off)"))
    if _get(s, "services.webhooks", bool):
        items.append(Item("webhooks", True, "QStash delivers the app's webhooks"))
    else:
        items.append(Item("webhooks", False, "the app's outgoing webhooks are not delivered (no QStash)"))
    return items


def _vault(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(14)
    except FileNotFoundError:
        return f"{path} (none)"
    return f"{path} ({'encrypted' if head == b'$ANSIBLE_VAULT' else 'NOT ENCRYPTED'})"


def build(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The summary as data: url, items on and off, where the secrets are."""
    domain = _get(settings, "domain", str)
    if not domain:
        raise SummaryError("the summary's settings lack the domain")
    items = [
        _sign_in(settings),
        _email(settings),
        _alerts(settings),
        _monitor(settings),
        *_backups(settings),
        _watch(settings),
        *_optional(settings),
    ]
    return {
        "schema": SCHEMA,
        "domain": domain,
        "host": _get(settings, "host", str),
        "url": f"https://{domain}",
        "items": [asdict(i) for i in items],
        "accepted_risks": [i.accepted_by for i in items if not i.on and i.accepted_by],
        "secrets": {
            "control_side": _get(settings, "secrets.control_dir", str),
            "vault": _vault(_get(settings, "secrets.vault_file", str)),
            "on_the_host": list(_get(settings, "secrets.host_files", list)),
        },
    }


def render(summary: Mapping[str, Any]) -> list[str]:
    """The summary as the lines printed at the end of a run (and by status)."""
    items = [Item(**i) for i in summary["items"]]
    lines = [f"Supermark at {summary['url']} (host {summary['host']})", "On:"]
    lines += [f"  + {i.name}: {i.detail}" for i in items if i.on] or ["  (nothing)"]
    lines.append("Off:")
    for item in (i for i in items if not i.on):
        accepted = f" [ACCEPTED RISK: {item.accepted_by}]" if item.accepted_by else ""
        lines.append(f"  - {item.name}: {item.detail}{accepted}")
    secrets = summary["secrets"]
    lines += [
        "Secrets:",
        f"  generated: {secrets['control_side']} (0600 files on this machine; back them up, or move them "
        "into the vault)",
        f"  vault: {secrets['vault']}",
        f"  on the host: {', '.join(secrets['on_the_host'])} (0600)",
    ]
    return lines


def write(path: Path, summary: Mapping[str, Any], dry_run: bool = False) -> bool:
    """Keep the summary (with its lines) as 0600 JSON in a 0700 folder. True when it changed."""
    content = json.dumps({**summary, "lines": render(summary)}, indent=2, sort_keys=True) + "\n"
    try:
        if path.read_text() == content and path.stat().st_mode & 0o777 == 0o600:
            return False
    except FileNotFoundError:
        pass
    if dry_run:
        return True
    files.ensure_dir(path.parent, 0o700)
    os.chmod(path.parent, 0o700)
    with files.atomic_write(path, mode=0o600) as out:
        out.write(content.encode())
    return True


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("schema") != SCHEMA:
        raise SummaryError(
            f"{path} has summary schema {data.get('schema')}, not {SCHEMA}: run site.yml again"
        )
    return data
