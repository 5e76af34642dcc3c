"""DigitalOcean's own watch on the deployment, from outside the droplet.

A dead droplet cannot report itself, and our monitor runs on it. So the
droplet role also sets up, on DigitalOcean's side: an uptime check on the
app's ``/api/health`` with alerts when it is down, slow, or its TLS
certificate is about to expire, and monitoring alert policies on the
droplet's CPU, memory and disk. All e-mail the operator.

Each piece is found by its name (the check), its type (the check's alerts)
or its description (the policies), compared field by field and updated in
place, so a second run sends no write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from supermark_ops.digitalocean.api import JSON, DOAPIError, DOClient, DOError
from supermark_ops.digitalocean.resources import Outcome

# Where DigitalOcean's uptime probes run (the API's enum).
UPTIME_REGIONS = ("us_east", "us_west", "eu_west", "se_asia")
HEALTH_PATH = "/api/health"
# How long a condition must last before an alert: short for down, longer for
# the droplet's metrics so an image build (minutes of full CPU) does not page.
DOWN_PERIOD = "2m"
LATENCY_PERIOD = "5m"
TLS_PERIOD = "5m"
POLICY_WINDOW = "10m"
# (key, the API's alert type, the words in the description)
POLICY_KINDS = (
    ("cpu", "v1/insights/droplet/cpu", "CPU"),
    ("memory", "v1/insights/droplet/memory_utilization_percent", "memory"),
    ("disk", "v1/insights/droplet/disk_utilization_percent", "disk"),
)
MARK = "(supermark-ops)"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class WatchSpec:
    name: str  # the droplet's name: names the check and the policies
    app_host: str
    emails: list[str]
    regions: list[str] = field(default_factory=lambda: ["us_east", "eu_west"])
    latency_ms: int = 2000
    tls_days: int = 14
    cpu_percent: int = 90
    memory_percent: int = 90
    disk_percent: int = 85

    @property
    def target(self) -> str:
        return f"https://{self.app_host}{HEALTH_PATH}"

    @property
    def check_name(self) -> str:
        return f"{self.name} {HEALTH_PATH} {MARK}"

    def policy_description(self, words: str) -> str:
        return f"{self.name} {words} {MARK}"

    def thresholds(self) -> dict[str, int]:
        return {"cpu": self.cpu_percent, "memory": self.memory_percent, "disk": self.disk_percent}


def problems(spec: WatchSpec) -> list[str]:
    """Input checks that need no request (called by provision.validate)."""
    found: list[str] = []
    if not spec.emails:
        found.append(
            "droplet_watch_emails is empty: DigitalOcean's uptime check and alert policies e-mail it. "
            "Set SUPERMARK_OPERATOR_EMAIL (supermark_operator_email) to an address verified on the "
            "DigitalOcean account, or droplet_watch_enabled: false to go without the outside watch"
        )
    for email in spec.emails:
        if not EMAIL.match(email):
            found.append(f"droplet_watch_emails has '{email}', which is not an e-mail address")
    if not spec.app_host:
        found.append("the uptime check needs the app's name: set droplet_dns_domain (SUPERMARK_DOMAIN)")
    unknown = sorted(set(spec.regions) - set(UPTIME_REGIONS))
    if not spec.regions or unknown:
        found.append(
            f"droplet_watch_regions must list some of {', '.join(UPTIME_REGIONS)} "
            f"(got {', '.join(spec.regions) or 'none'})"
        )
    for key, value in spec.thresholds().items():
        if not 1 <= value <= 100:
            found.append(f"droplet_watch_{key}_percent is {value}: a percentage, 1-100")
    if spec.latency_ms < 1:
        found.append("droplet_watch_latency_ms must be above 0")
    if spec.tls_days < 1:
        found.append("droplet_watch_tls_days must be 1 or more")
    return found


def _notifications(spec: WatchSpec) -> JSON:
    # The API requires both lists, even when one is empty.
    return {"email": sorted(spec.emails), "slack": []}


def check_body(spec: WatchSpec) -> JSON:
    return {
        "name": spec.check_name,
        "type": "https",
        "target": spec.target,
        "regions": sorted(spec.regions),
        "enabled": True,
    }


def alert_bodies(spec: WatchSpec) -> list[JSON]:
    """One alert per type: down, slow, TLS certificate expiring."""
    notify = _notifications(spec)
    return [
        {
            "name": f"{spec.name} is down",
            "type": "down",
            "period": DOWN_PERIOD,
            "notifications": notify,
        },
        {
            "name": f"{spec.name} answers slower than {spec.latency_ms} ms",
            "type": "latency",
            "threshold": spec.latency_ms,
            "comparison": "greater_than",
            "period": LATENCY_PERIOD,
            "notifications": notify,
        },
        {
            "name": f"{spec.name} TLS certificate expires within {spec.tls_days} days",
            "type": "ssl_expiry",
            "threshold": spec.tls_days,
            "period": TLS_PERIOD,
            "notifications": notify,
        },
    ]


def policy_bodies(spec: WatchSpec, droplet_id: int | str) -> list[JSON]:
    thresholds = spec.thresholds()
    return [
        {
            "type": kind,
            "description": spec.policy_description(words),
            "compare": "GreaterThan",
            "value": float(thresholds[key]),
            "window": POLICY_WINDOW,
            "entities": [str(droplet_id)],
            "tags": [],
            "alerts": _notifications(spec),
            "enabled": True,
        }
        for key, kind, words in POLICY_KINDS
    ]


def _differs(current: JSON, wanted: JSON) -> bool:
    """Whether any field we set differs (lists compare as sets; numbers as numbers)."""
    for key, value in wanted.items():
        have = current.get(key)
        if isinstance(value, dict):
            if not isinstance(have, dict) or _differs(have, value):
                return True
        elif isinstance(value, list):
            if not isinstance(have, list) or sorted(map(repr, have)) != sorted(map(repr, value)):
                return True
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not isinstance(have, int | float) or float(have) != float(value):
                return True
        elif have != value:
            return True
    return False


def _unverified_hint(exc: DOAPIError, spec: WatchSpec, what: str) -> DOError:
    return DOError(
        f"DigitalOcean refused the {what} for {', '.join(spec.emails)}: {exc.detail}. "
        "droplet_watch_emails (SUPERMARK_OPERATOR_EMAIL) must be addresses verified on the DigitalOcean "
        "account: the account's own e-mail or a team member's."
    )


def ensure_uptime_check(client: DOClient, spec: WatchSpec, dry_run: bool = False) -> Outcome:
    wanted = check_body(spec)
    current = next(
        (c for c in client.paginate("/v2/uptime/checks", "checks") if c.get("name") == spec.check_name),
        None,
    )
    if current is None:
        if dry_run:
            return Outcome(True, {}, [f"create uptime check on {spec.target}"])
        created = client.post("/v2/uptime/checks", wanted)["check"]
        return Outcome(True, created, [f"created uptime check on {spec.target}"])
    if not _differs(current, wanted):
        return Outcome(False, current)
    if dry_run:
        return Outcome(True, current, [f"update uptime check on {spec.target}"])
    updated = client.put(f"/v2/uptime/checks/{current['id']}", wanted)["check"]
    return Outcome(True, updated, [f"updated uptime check on {spec.target}"])


def ensure_uptime_alerts(
    client: DOClient, check_id: str | None, spec: WatchSpec, dry_run: bool = False
) -> Outcome:
    """The check's alerts, one per type; a new check (dry run) has none yet."""
    current: dict[str, JSON] = {}
    if check_id:
        for alert in client.paginate(f"/v2/uptime/checks/{check_id}/alerts", "alerts"):
            current.setdefault(alert["type"], alert)
    actions: list[str] = []
    for wanted in alert_bodies(spec):
        have = current.get(wanted["type"])
        if have is not None and not _differs(have, wanted):
            continue
        verb = "create" if have is None else "update"
        if dry_run or not check_id:
            actions.append(f"{verb} uptime alert '{wanted['name']}'")
            continue
        try:
            if have is None:
                client.post(f"/v2/uptime/checks/{check_id}/alerts", wanted)
            else:
                client.put(f"/v2/uptime/checks/{check_id}/alerts/{have['id']}", wanted)
        except DOAPIError as exc:
            if exc.status == 422:
                raise _unverified_hint(exc, spec, "uptime alert") from None
            raise
        actions.append(f"{verb}d uptime alert '{wanted['name']}'")
    return Outcome(bool(actions), {}, actions)


def ensure_alert_policies(
    client: DOClient, droplet_id: int | str | None, spec: WatchSpec, dry_run: bool = False
) -> Outcome:
    """CPU, memory and disk policies on this droplet (the metrics agent reports them)."""
    wanted_all = policy_bodies(spec, droplet_id if droplet_id is not None else "planned")
    ours = {w["description"] for w in wanted_all}
    current = {
        p["description"]: p
        for p in client.paginate("/v2/monitoring/alerts", "policies")
        if p.get("description") in ours
    }
    actions: list[str] = []
    for wanted in wanted_all:
        have = current.get(wanted["description"])
        if have is not None and not _differs(have, wanted):
            continue
        verb = "create" if have is None else "update"
        if dry_run or droplet_id is None:
            actions.append(f"{verb} alert policy '{wanted['description']}'")
            continue
        try:
            if have is None:
                client.post("/v2/monitoring/alerts", wanted)
            else:
                client.put(f"/v2/monitoring/alerts/{have['uuid']}", wanted)
        except DOAPIError as exc:
            if exc.status == 422:
                raise _unverified_hint(exc, spec, "alert policy") from None
            raise
        actions.append(f"{verb}d alert policy '{wanted['description']}'")
    return Outcome(bool(actions), {}, actions)


def ensure_watch(
    client: DOClient, spec: WatchSpec, droplet_id: int | str | None, dry_run: bool = False
) -> Outcome:
    check = ensure_uptime_check(client, spec, dry_run)
    alerts = ensure_uptime_alerts(client, check.resource.get("id"), spec, dry_run)
    policies = ensure_alert_policies(client, droplet_id, spec, dry_run)
    parts = (check, alerts, policies)
    return Outcome(
        any(p.changed for p in parts),
        {"check_id": check.resource.get("id"), "target": spec.target},
        [a for p in parts for a in p.actions],
    )


def remove_watch(client: DOClient, name: str, dry_run: bool = False) -> list[str]:
    """Delete the check (its alerts go with it) and the policies, found by name."""
    spec = WatchSpec(name=name, app_host="", emails=[])
    actions: list[str] = []
    for check in list(client.paginate("/v2/uptime/checks", "checks")):
        if check.get("name") == spec.check_name:
            actions.append(f"delete uptime check {spec.check_name}")
            if not dry_run:
                client.delete(f"/v2/uptime/checks/{check['id']}")
    ours = {spec.policy_description(words) for _key, _kind, words in POLICY_KINDS}
    for policy in list(client.paginate("/v2/monitoring/alerts", "policies")):
        if policy.get("description") in ours:
            actions.append(f"delete alert policy '{policy['description']}'")
            if not dry_run:
                client.delete(f"/v2/monitoring/alerts/{policy['uuid']}")
    return actions
