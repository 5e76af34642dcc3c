"""Idempotent find-or-create for each DigitalOcean resource we manage.

Every function looks the resource up first and only creates or updates what
differs, so a second run sends no create or update. With ``dry_run`` nothing
is written: the result says what a real run would do.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from supermark_ops.digitalocean.api import JSON, DOClient, DOError


@dataclass
class Outcome:
    """What one ensure_* call found or did."""

    changed: bool
    resource: JSON = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)


def ssh_key_fingerprint(public_key: str) -> str:
    """DigitalOcean's key ID: the MD5 fingerprint of the key blob, colon-separated."""
    parts = public_key.split()
    if len(parts) < 2:
        raise DOError("The SSH public key is not in 'TYPE BASE64 [COMMENT]' form.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise DOError("The SSH public key's base64 part does not decode.") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ensure_ssh_key(client: DOClient, name: str, public_key: str, dry_run: bool = False) -> Outcome:
    fingerprint = ssh_key_fingerprint(public_key)
    found = client.get(f"/v2/account/keys/{fingerprint}", allow_404=True)
    if found:
        return Outcome(False, found["ssh_key"])
    if dry_run:
        return Outcome(True, {"fingerprint": fingerprint, "name": name}, [f"upload SSH key {name}"])
    created = client.post("/v2/account/keys", {"name": name, "public_key": public_key.strip()})
    return Outcome(True, created["ssh_key"], [f"uploaded SSH key {name}"])


def find_droplet(client: DOClient, name: str, tag: str) -> JSON | None:
    """The droplet with this name among those carrying our tag."""
    matches = [d for d in client.paginate("/v2/droplets", "droplets", {"tag_name": tag}) if d["name"] == name]
    if len(matches) > 1:
        ids = ", ".join(str(d["id"]) for d in matches)
        raise DOError(f"{len(matches)} droplets are named {name} with tag {tag} (IDs {ids}); keep one.")
    return matches[0] if matches else None


def ensure_droplet(
    client: DOClient,
    spec: JSON,
    tag: str,
    dry_run: bool = False,
    active_timeout: float = 600,
    poll: float = 5,
) -> Outcome:
    """Create the droplet once (found by name and tag), then wait until it is active."""
    droplet = find_droplet(client, spec["name"], tag)
    actions: list[str] = []
    if droplet is None:
        if dry_run:
            return Outcome(
                True,
                {"name": spec["name"], "status": "planned"},
                [f"create droplet {spec['name']}"],
            )
        body = {**spec, "tags": sorted({tag, *spec.get("tags", [])})}
        droplet = client.post("/v2/droplets", body)["droplet"]
        actions.append(f"created droplet {spec['name']}")
    waited = 0.0
    while droplet["status"] != "active":
        if droplet["status"] not in ("new",) or waited >= active_timeout:
            raise DOError(
                f"Droplet {droplet['name']} ({droplet['id']}) is '{droplet['status']}' "
                f"after {int(waited)} s, not active. Look at it in the control panel; "
                "destroy it if it is stuck, then run again."
            )
        client.sleep(poll)
        waited += poll
        droplet = (client.get(f"/v2/droplets/{droplet['id']}") or {})["droplet"]
    return Outcome(bool(actions), droplet, actions)


def droplet_ip(droplet: JSON, version: str = "v4") -> str | None:
    for net in droplet.get("networks", {}).get(version, []):
        if net.get("type") == "public":
            return str(net["ip_address"])
    return None


def ensure_volume(
    client: DOClient,
    name: str,
    region: str,
    size_gib: int,
    droplet_id: int | None,
    dry_run: bool = False,
) -> Outcome:
    """A block-storage volume, created once and attached to the droplet. Never resized or deleted here."""
    volumes = list(client.paginate("/v2/volumes", "volumes", {"name": name, "region": region}))
    actions: list[str] = []
    if volumes:
        volume = volumes[0]
    elif dry_run:
        return Outcome(True, {"name": name}, [f"create volume {name} ({size_gib} GiB) and attach it"])
    else:
        volume = client.post(
            "/v2/volumes",
            {
                "name": name,
                "region": region,
                "size_gigabytes": size_gib,
                "filesystem_type": "ext4",
                "description": "Supermark data (Postgres and documents)",
            },
        )["volume"]
        actions.append(f"created volume {name}")
    if droplet_id is not None and droplet_id not in volume.get("droplet_ids", []):
        if volume.get("droplet_ids"):
            raise DOError(
                f"Volume {name} is attached to droplet {volume['droplet_ids'][0]}, not {droplet_id}. "
                "Detach it in the control panel first (no data is touched)."
            )
        if dry_run:
            return Outcome(True, volume, [*actions, f"attach volume {name}"])
        action = client.post(
            f"/v2/volumes/{volume['id']}/actions",
            {"type": "attach", "droplet_id": droplet_id, "region": region},
        )["action"]
        client.wait_action(action["id"], f"attach volume {name}")
        actions.append(f"attached volume {name}")
        volume = {**volume, "droplet_ids": [droplet_id]}
    return Outcome(bool(actions), volume, actions)


def ensure_reserved_ip(client: DOClient, droplet_id: int, dry_run: bool = False) -> Outcome:
    """A reserved IPv4 assigned to the droplet (created with the assignment)."""
    for rip in client.paginate("/v2/reserved_ips", "reserved_ips"):
        if (rip.get("droplet") or {}).get("id") == droplet_id:
            return Outcome(False, rip)
    if dry_run:
        return Outcome(True, {}, ["reserve an IP and assign it"])
    created = client.post("/v2/reserved_ips", {"droplet_id": droplet_id})["reserved_ip"]
    return Outcome(True, created, [f"reserved IP {created['ip']}"])


def ensure_project(client: DOClient, project_id: str, urns: list[str], dry_run: bool = False) -> Outcome:
    """Assign the resources (URNs such as do:droplet:123) to a project; only the missing ones."""
    assigned = {r["urn"] for r in client.paginate(f"/v2/projects/{project_id}/resources", "resources")}
    missing = [u for u in urns if u not in assigned]
    if not missing:
        return Outcome(False, {"project_id": project_id})
    if not dry_run:
        client.post(f"/v2/projects/{project_id}/resources", {"resources": missing})
    verb = "assign" if dry_run else "assigned"
    return Outcome(True, {"project_id": project_id}, [f"{verb} {', '.join(missing)} to project {project_id}"])


def firewall_rules(ssh_cidrs: list[str]) -> tuple[list[JSON], list[JSON]]:
    """Inbound 22 from the operator's networks and 80/443 from anywhere; all outbound."""
    anywhere = {"addresses": ["0.0.0.0/0", "::/0"]}
    inbound = [
        {"protocol": "tcp", "ports": "22", "sources": {"addresses": sorted(ssh_cidrs)}},
        {"protocol": "tcp", "ports": "80", "sources": anywhere},
        {"protocol": "tcp", "ports": "443", "sources": anywhere},
    ]
    outbound = [
        {"protocol": "tcp", "ports": "0", "destinations": anywhere},
        {"protocol": "udp", "ports": "0", "destinations": anywhere},
        # The API requires 'ports' on every rule; for ICMP it is ignored.
        {"protocol": "icmp", "ports": "0", "destinations": anywhere},
    ]
    return inbound, outbound


def _rule_key(rule: JSON, side: str) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    ends = rule.get(side, {})
    ports = (
        "0" if rule["protocol"] == "icmp" or rule.get("ports") in (None, "", "all") else str(rule["ports"])
    )
    return (
        rule["protocol"],
        ports,
        tuple(sorted(ends.get("addresses", []))),
        tuple(sorted(ends.get("tags", []))),
    )


def _rules_equal(current: JSON, inbound: list[JSON], outbound: list[JSON]) -> bool:
    def keys(rules: list[JSON], side: str) -> set[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        return {_rule_key(r, side) for r in rules}

    return keys(current.get("inbound_rules", []), "sources") == keys(inbound, "sources") and keys(
        current.get("outbound_rules", []), "destinations"
    ) == keys(outbound, "destinations")


def ensure_firewall(
    client: DOClient, name: str, tag: str, ssh_cidrs: list[str], dry_run: bool = False
) -> Outcome:
    """A cloud firewall applied by tag; a changed rule set is updated in place."""
    inbound, outbound = firewall_rules(ssh_cidrs)
    body = {"name": name, "inbound_rules": inbound, "outbound_rules": outbound, "tags": [tag]}
    current = next((f for f in client.paginate("/v2/firewalls", "firewalls") if f["name"] == name), None)
    if current is None:
        if dry_run:
            return Outcome(True, body, [f"create firewall {name}"])
        return Outcome(True, client.post("/v2/firewalls", body)["firewall"], [f"created firewall {name}"])
    if _rules_equal(current, inbound, outbound) and tag in current.get("tags", []):
        return Outcome(False, current)
    if dry_run:
        return Outcome(True, current, [f"update firewall {name}"])
    updated = client.put(f"/v2/firewalls/{current['id']}", body)["firewall"]
    return Outcome(True, updated, [f"updated firewall {name}"])


# Record types whose data is a host name: sent fully qualified (a trailing
# dot; without one DigitalOcean reads it relative to the zone), returned
# without the dot.
HOSTNAME_DATA_TYPES = frozenset({"CNAME", "MX", "NS"})


def record_fqdn(name: str, domain: str) -> str:
    return domain if name == "@" else f"{name}.{domain}"


def _record_data(record: JSON) -> str:
    data = str(record["data"])
    if record["type"] in HOSTNAME_DATA_TYPES and data != "@" and not data.endswith("."):
        data += "."
    return data


def same_record(existing: JSON, wanted: JSON) -> bool:
    """Whether an existing record already holds what we want (type, data, MX priority)."""
    if existing.get("type") != wanted["type"]:
        return False
    if str(existing.get("data", "")).rstrip(".") != str(wanted["data"]).rstrip("."):
        return False
    return wanted["type"] != "MX" or existing.get("priority") == wanted.get("priority")


def record_line(record: JSON, domain: str, ttl: int) -> str:
    """The record in zone-file form, for a DNS provider other than DigitalOcean."""
    data = _record_data(record)
    if record["type"] == "TXT":
        data = f'"{data}"'
    elif record["type"] == "MX":
        data = f"{record.get('priority', 10)} {data}"
    return f"{record_fqdn(record['name'], domain)}. {ttl} IN {record['type']} {data}"


def record_body(record: JSON, ttl: int) -> JSON:
    body: JSON = {"type": record["type"], "name": record["name"], "data": _record_data(record), "ttl": ttl}
    if record["type"] == "MX":
        body["priority"] = int(record.get("priority", 10))
    if record["type"] == "TXT":
        # The published schema requires these two on a TXT record (they belong
        # to CAA); its own example sends them as null, as we do.
        body.update(flags=None, tag=None)
    return body


def ensure_dns_records(
    client: DOClient, domain: str, records: list[JSON], ttl: int = 300, dry_run: bool = False
) -> Outcome:
    """Records (A, AAAA, and e-mail's TXT/MX/CNAME) in a DigitalOcean-managed domain.

    A record whose type and name exist with other data is updated in place
    (the droplet's new address, a rotated DKIM key); for TXT, only one of the
    same kind (SPF, DKIM, DMARC...), since a name holds several. When the domain is not
    managed there, nothing is sent and the result lists the records for the
    operator to create wherever the DNS lives.
    """
    if client.get(f"/v2/domains/{domain}", allow_404=True) is None:
        wanted = [record_line(r, domain, ttl) for r in records]
        return Outcome(False, {"managed": False, "records_to_create": wanted})
    actions: list[str] = []
    for record in records:
        fqdn = record_fqdn(record["name"], domain)
        existing = list(
            client.paginate(
                f"/v2/domains/{domain}/records",
                "domain_records",
                {"type": record["type"], "name": fqdn},
            )
        )
        if any(same_record(r, record) for r in existing):
            continue
        label = f"{record['type']} {fqdn} -> {record['data']}"
        body = record_body(record, ttl)
        if dry_run:
            actions.append(f"set {label}")
        elif same_kind := _replaceable(existing, record):
            update = {k: v for k, v in body.items() if k not in ("name", "ttl")}
            client.put(f"/v2/domains/{domain}/records/{same_kind[0]['id']}", update)
            actions.append(f"updated {label}")
        else:
            client.post(f"/v2/domains/{domain}/records", body)
            actions.append(f"created {label}")
    return Outcome(bool(actions), {"managed": True}, actions)


def _txt_kind(data: str) -> str:
    """What a TXT record is for: its version tag (v=spf1, v=dkim1, v=dmarc1) or its first key
    (p for a bare DKIM key, google-site-verification, ...)."""
    first = data.strip().strip('"').split(";")[0].strip().lower()
    return first if first.startswith("v=") else first.split("=")[0]


def _replaceable(existing: list[dict[str, Any]], record: dict[str, Any]) -> list[dict[str, Any]]:
    """The records at that name a changed one replaces. A name holds several TXT records (SPF, a
    site verification, a DKIM key): only one of the same kind is replaced, never the others."""
    if record["type"] != "TXT":
        return existing
    return [r for r in existing if _txt_kind(str(r.get("data", ""))) == _txt_kind(str(record["data"]))]


def summarize(outcomes: dict[str, Outcome]) -> dict[str, Any]:
    return {
        "changed": any(o.changed for o in outcomes.values()),
        "actions": [a for o in outcomes.values() for a in o.actions],
    }
