"""The whole provisioning plan: input checked offline, then each resource ensured.

``validate`` runs before any request, so a missing token, an unknown region
or size slug, or a domain that does not parse fails without touching the API.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from supermark_ops.digitalocean import resources as res
from supermark_ops.digitalocean import watch
from supermark_ops.digitalocean.api import DOClient, DOError

# DigitalOcean's datacenter regions (from the API's /v2/regions). A new one can
# be allowed with extra_regions without waiting for a release.
KNOWN_REGIONS = frozenset(
    {"nyc1", "nyc2", "nyc3", "sfo1", "sfo2", "sfo3", "ams2", "ams3"}
    | {"sgp1", "lon1", "fra1", "tor1", "blr1", "syd1", "atl1", "ric1"}
)
# Droplet size slugs: basic (s-), general purpose (g-, gd-), CPU (c-, c2-),
# memory (m-, m3-, m6-), storage (so-, so1_5-), GPU (gpu-) families.
SIZE_SLUG = re.compile(
    r"^(s-\d+vcpu-\d+gb(-\d+gb)?(-(amd|intel))?"
    r"|(g|gd|c|c2|m|m3|m6|so|so1_5)-\d+vcpu-\d+gb(-intel)?"
    r"|gpu-[a-z0-9]+(x\d+)?(-\d+gb)?)$"
)
# A new droplet's host key is unknown: trust it on first use, then pin it (as
# the droplet role's add_host and inventory file do).
FIRST_USE_SSH_ARGS = "-o StrictHostKeyChecking=accept-new"
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Record names of e-mail records (resend._domainkey, send, _dmarc): labels may start with '_'.
RECORD_NAME = re.compile(
    r"^(@|(_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\._?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$"
)
MAIL_RECORD_TYPES = ("TXT", "MX", "CNAME")
# A login name as useradd takes it (and nothing a shell or YAML would read as more).
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")


@dataclass
class ProvisionSpec:
    token: str = field(repr=False)
    name: str
    region: str
    size: str
    image: str = "ubuntu-24-04-x64"
    domain: str = ""
    app_name: str = "@"
    files_name: str = "files"
    tag: str = "supermark"
    ssh_public_key: str = ""
    ssh_key_name: str = "supermark-ops"
    ssh_cidrs: list[str] = field(default_factory=lambda: ["0.0.0.0/0", "::/0"])
    deploy_user: str = "deploy"
    vpc_uuid: str = ""
    project_id: str = ""
    monitoring: bool = True
    backups: bool = False
    ipv6: bool = True
    extra_tags: list[str] = field(default_factory=list)
    volume_size_gib: int = 0
    volume_name: str = ""
    reserved_ip: bool = False
    extra_regions: list[str] = field(default_factory=list)
    dns_ttl: int = 300
    # DigitalOcean's watch from outside (watch.py): on unless switched off.
    watch_enabled: bool = True
    watch_emails: list[str] = field(default_factory=list)
    watch_regions: list[str] = field(default_factory=lambda: ["us_east", "eu_west"])
    watch_latency_ms: int = 2000
    watch_tls_days: int = 14
    watch_cpu_percent: int = 90
    watch_memory_percent: int = 90
    watch_disk_percent: int = 85
    # The sender domain's records that Resend lists (DKIM, SPF, return path), in the same zone.
    mail_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def firewall_name(self) -> str:
        return f"{self.name}-fw"

    @property
    def app_host(self) -> str:
        return res.record_fqdn(self.app_name, self.domain) if self.domain else ""

    def watch_spec(self) -> watch.WatchSpec:
        return watch.WatchSpec(
            name=self.name,
            app_host=self.app_host,
            emails=list(self.watch_emails),
            regions=list(self.watch_regions),
            latency_ms=self.watch_latency_ms,
            tls_days=self.watch_tls_days,
            cpu_percent=self.watch_cpu_percent,
            memory_percent=self.watch_memory_percent,
            disk_percent=self.watch_disk_percent,
        )


def validate(spec: ProvisionSpec) -> None:
    """Every check that needs no request. Raises DOError naming the variable to fix."""
    problems: list[str] = []
    if not spec.token:
        problems.append("no token: set SUPERMARK_DO_TOKEN (or vault_supermark_do_token)")
    if not HOSTNAME.match(spec.name):
        problems.append(f"droplet_name '{spec.name}' is not a hostname (lowercase letters, digits, '-')")
    if spec.region not in KNOWN_REGIONS | set(spec.extra_regions):
        problems.append(
            f"droplet_region '{spec.region}' is not a DigitalOcean region "
            f"({', '.join(sorted(KNOWN_REGIONS))}; a newer one goes in droplet_extra_regions)"
        )
    if not SIZE_SLUG.match(spec.size):
        problems.append(f"droplet_size '{spec.size}' is not a size slug (e.g. s-2vcpu-4gb)")
    if spec.domain and not DOMAIN.match(spec.domain):
        problems.append(f"the domain '{spec.domain}' does not parse (e.g. docs.example.com)")
    for label in (spec.app_name, spec.files_name):
        if label != "@" and not all(HOSTNAME.match(p) for p in label.split(".")):
            problems.append(f"the record name '{label}' is not a DNS label")
    if not USER_NAME.match(spec.deploy_user):
        problems.append(
            f"droplet_deploy_user {spec.deploy_user[:40]!r} is not a login name (lowercase letters, digits, "
            "'_' and '-', starting with a letter or '_', at most 32)"
        )
    if not spec.ssh_public_key.strip():
        problems.append("no SSH public key: set SUPERMARK_SSH_PUBLIC_KEY or supermark_ssh_public_key_file")
    elif any(c in spec.ssh_public_key.strip() for c in "\r\n\0"):
        problems.append("the SSH public key must be one line ('TYPE BASE64 [COMMENT]')")
    else:
        try:
            res.ssh_key_fingerprint(spec.ssh_public_key)
        except DOError as exc:
            problems.append(str(exc))
    for cidr in spec.ssh_cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            problems.append(f"droplet_firewall_ssh_cidrs has '{cidr}', which is not a network")
    if spec.project_id and not re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", spec.project_id):
        problems.append(f"droplet_project_id '{spec.project_id}' is not a project UUID")
    if spec.volume_size_gib < 0 or (spec.volume_size_gib and not spec.volume_name):
        problems.append("droplet_volume_size_gb needs droplet_volume_name, and must be 0 (none) or more")
    if spec.watch_enabled:
        problems.extend(watch.problems(spec.watch_spec()))
        if not spec.monitoring:
            problems.append(
                "the outside watch's memory and disk alerts read DigitalOcean's metrics agent: "
                "keep droplet_monitoring true (or droplet_watch_enabled: false)"
            )
    problems.extend(_mail_record_problems(spec))
    if problems:
        raise DOError("Provisioning input is invalid: " + "; ".join(problems) + ".")


def _mail_record_problems(spec: ProvisionSpec) -> list[str]:
    found: list[str] = []
    if spec.mail_records and not spec.domain:
        found.append("droplet_resend_dns_records needs droplet_dns_domain (the zone they go in)")
    seen: set[tuple[str, str]] = set()
    for record in spec.mail_records:
        kind, name, data = record.get("type"), str(record.get("name", "")), str(record.get("data", ""))
        where = f"droplet_resend_dns_records has {record!r}"
        if kind not in MAIL_RECORD_TYPES:
            found.append(f"{where}: type must be one of {', '.join(MAIL_RECORD_TYPES)}")
        if not RECORD_NAME.match(name):
            found.append(f"{where}: name must be a record name in the zone, e.g. resend._domainkey or send")
        if not data.strip():
            found.append(f"{where}: data is empty")
        if kind == "MX" and not isinstance(record.get("priority"), int):
            found.append(f"{where}: an MX record needs an integer priority (Resend gives 10)")
        if (str(kind), name) in seen:
            found.append(
                f"{where}: a second {kind} record named {name} (one of each: the run would flip them)"
            )
        seen.add((str(kind), name))
    return found


def cloud_init(spec: ProvisionSpec) -> str:
    """Minimal user data: the deploy user and key, so the first SSH works as non-root. Written
    by the YAML emitter, so no value can add a line of its own (validate() checked them too)."""
    user = {
        "name": spec.deploy_user,
        "groups": ["sudo"],
        "shell": "/bin/bash",
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
        "ssh_authorized_keys": [spec.ssh_public_key.strip()],
    }
    return "#cloud-config\n" + yaml.safe_dump({"users": [user]}, sort_keys=False, width=1 << 16)


def droplet_body(spec: ProvisionSpec, ssh_key_id: int | str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": spec.name,
        "region": spec.region,
        "size": spec.size,
        "image": spec.image,
        "ssh_keys": [ssh_key_id],
        "backups": spec.backups,
        "ipv6": spec.ipv6,
        "monitoring": spec.monitoring,
        "tags": sorted({spec.tag, *spec.extra_tags}),
        "user_data": cloud_init(spec),
    }
    if spec.vpc_uuid:
        body["vpc_uuid"] = spec.vpc_uuid
    return body


def provision(
    client: DOClient, spec: ProvisionSpec, dry_run: bool = False, active_timeout: float = 600
) -> dict[str, Any]:
    """Ensure every resource, in dependency order. Returns what was done and the droplet's addresses."""
    validate(spec)
    out: dict[str, res.Outcome] = {}
    out["ssh_key"] = res.ensure_ssh_key(client, spec.ssh_key_name, spec.ssh_public_key, dry_run)
    key = out["ssh_key"].resource
    key_id: int | str = key.get("id") or key.get("fingerprint") or ""
    out["droplet"] = res.ensure_droplet(
        client, droplet_body(spec, key_id), spec.tag, dry_run, active_timeout=active_timeout
    )
    droplet = out["droplet"].resource
    droplet_id = droplet.get("id")
    if spec.volume_size_gib:
        out["volume"] = res.ensure_volume(
            client, spec.volume_name, spec.region, spec.volume_size_gib, droplet_id, dry_run
        )
    ipv4 = res.droplet_ip(droplet)
    if spec.reserved_ip and droplet_id is not None:
        out["reserved_ip"] = res.ensure_reserved_ip(client, droplet_id, dry_run)
        ipv4 = out["reserved_ip"].resource.get("ip", ipv4)
    if spec.project_id and droplet_id is not None:
        urns = [f"do:droplet:{droplet_id}"]
        if "volume" in out and out["volume"].resource.get("id"):
            urns.append(f"do:volume:{out['volume'].resource['id']}")
        if "reserved_ip" in out and out["reserved_ip"].resource.get("ip"):
            urns.append(f"do:floatingip:{out['reserved_ip'].resource['ip']}")
        out["project"] = res.ensure_project(client, spec.project_id, urns, dry_run)
    out["firewall"] = res.ensure_firewall(client, spec.firewall_name, spec.tag, spec.ssh_cidrs, dry_run)
    ipv6 = res.droplet_ip(droplet, "v6") if spec.ipv6 else None
    if spec.domain and ipv4:
        records: list[dict[str, Any]] = []
        for label in (spec.app_name, spec.files_name):
            records.append({"type": "A", "name": label, "data": ipv4})
            if ipv6:
                records.append({"type": "AAAA", "name": label, "data": ipv6})
        records.extend(spec.mail_records)
        out["dns"] = res.ensure_dns_records(client, spec.domain, records, spec.dns_ttl, dry_run)
    if spec.watch_enabled:
        out["watch"] = watch.ensure_watch(client, spec.watch_spec(), droplet_id, dry_run)
    summary = res.summarize(out)
    dns = out["dns"].resource if "dns" in out else {}
    summary.update(
        droplet_id=droplet_id,
        droplet_name=spec.name,
        ipv4=ipv4,
        ipv6=ipv6,
        volume_id=out["volume"].resource.get("id") if "volume" in out else None,
        dns_managed=dns.get("managed"),
        dns_records_to_create=dns.get("records_to_create", []),
        watch_check_id=out["watch"].resource.get("check_id") if "watch" in out else None,
        watch_target=spec.watch_spec().target if spec.watch_enabled else None,
    )
    return summary


def inventory(client: DOClient, tag: str, deploy_user: str = "deploy") -> dict[str, Any]:
    """An Ansible inventory of the droplets carrying the tag (for later runs)."""
    hosts: dict[str, Any] = {}
    for droplet in client.paginate("/v2/droplets", "droplets", {"tag_name": tag}):
        ip = res.droplet_ip(droplet)
        if ip:
            hosts[droplet["name"]] = {
                "ansible_host": ip,
                "ansible_user": deploy_user,
                "ansible_ssh_common_args": FIRST_USE_SSH_ARGS,
                "do_droplet_id": droplet["id"],
            }
    return {"supermark": {"hosts": sorted(hosts)}, "_meta": {"hostvars": hosts}}


def destroy(
    client: DOClient,
    spec: ProvisionSpec,
    delete_volume: bool = False,
    snapshot_first: bool = True,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove what provision created. The data volume stays unless delete_volume is set.

    Data is sacred: by default a snapshot of the droplet is taken (and waited
    for) before it is deleted, so even its local disk can be brought back.
    """
    actions: list[str] = []
    droplet = res.find_droplet(client, spec.name, spec.tag)
    ips = {ip for ip in (res.droplet_ip(droplet), res.droplet_ip(droplet, "v6")) if ip} if droplet else set()
    for rip in list(client.paginate("/v2/reserved_ips", "reserved_ips")):
        if droplet and (rip.get("droplet") or {}).get("id") == droplet["id"]:
            ips.add(rip["ip"])
            actions.append(f"release reserved IP {rip['ip']}")
            if not dry_run:
                client.delete(f"/v2/reserved_ips/{rip['ip']}")
    managed = bool(spec.domain) and client.get(f"/v2/domains/{spec.domain}", allow_404=True) is not None
    if managed and (ips or spec.mail_records):
        for record in list(client.paginate(f"/v2/domains/{spec.domain}/records", "domain_records")):
            ours = (record["type"] in ("A", "AAAA") and record["data"] in ips) or any(
                record["name"] == mail["name"] and res.same_record(record, mail) for mail in spec.mail_records
            )
            if ours:
                actions.append(f"delete {record['type']} {res.record_fqdn(record['name'], spec.domain)}")
                if not dry_run:
                    client.delete(f"/v2/domains/{spec.domain}/records/{record['id']}")
    actions.extend(watch.remove_watch(client, spec.name, dry_run))
    for firewall in list(client.paginate("/v2/firewalls", "firewalls")):
        if firewall["name"] == spec.firewall_name:
            actions.append(f"delete firewall {spec.firewall_name}")
            if not dry_run:
                client.delete(f"/v2/firewalls/{firewall['id']}")
    if droplet is not None:
        if snapshot_first:
            name = f"{spec.name}-before-destroy"
            actions.append(f"snapshot droplet {spec.name} as {name}")
            if not dry_run:
                action = client.post(
                    f"/v2/droplets/{droplet['id']}/actions", {"type": "snapshot", "name": name}
                )["action"]
                client.wait_action(action["id"], f"snapshot {name}", timeout=3600, interval=10)
        actions.append(f"delete droplet {spec.name}")
        if not dry_run:
            client.delete(f"/v2/droplets/{droplet['id']}")
    if delete_volume and spec.volume_name:
        for volume in list(
            client.paginate("/v2/volumes", "volumes", {"name": spec.volume_name, "region": spec.region})
        ):
            # The droplet's snapshot does not hold its volumes: the data volume gets its own
            # before it goes (the API answers once the snapshot is taken).
            if snapshot_first:
                name = f"{spec.volume_name}-before-destroy"
                actions.append(f"snapshot volume {spec.volume_name} as {name}")
                if not dry_run:
                    client.post(f"/v2/volumes/{volume['id']}/snapshots", {"name": name})
            actions.append(f"delete volume {spec.volume_name}")
            if not dry_run:
                client.delete(f"/v2/volumes/{volume['id']}")
    return {"changed": bool(actions), "actions": actions}
