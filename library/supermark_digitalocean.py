#!/usr/bin/python
"""Ansible module: the Supermark droplet and its resources on DigitalOcean.

Thin by design: it parses arguments and calls supermark_ops.digitalocean,
which is tested against an OpenAPI-validated stand-in of the API.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_digitalocean
short_description: Ensure (or remove) the Supermark droplet, key, volume, IP, firewall, DNS and outside watch
description:
  - Looks every resource up before creating it, so a second run sends no create or update.
  - DigitalOcean's watch from outside the droplet - an uptime check on https://<app>/api/health with
    alerts (down, latency, TLS expiry) and alert policies on the droplet's CPU, memory and disk, e-mailing
    O(watch_emails).
  - A changed firewall rule set is updated in place. DNS records are set in a DigitalOcean-managed
    domain, or returned as a list to create elsewhere.
  - Check mode sends no write and returns the actions a real run would take.
  - With O(state=absent), removes what it created after snapshotting the droplet; the data volume is
    kept unless O(delete_volume=true).
  - Runs on the control machine with the project's virtualenv Python (it imports supermark_ops).
options:
  state:
    description: Whether the resources should exist.
    type: str
    choices: [present, absent]
    default: present
  api_token:
    description: DigitalOcean API token (read and write scope). Never logged.
    type: str
    required: true
  api_url:
    description: API base URL.
    type: str
    default: https://api.digitalocean.com
  name:
    description: Droplet name (a hostname).
    type: str
    required: true
  region:
    description: Region slug.
    type: str
    required: true
  size:
    description: Size slug.
    type: str
    required: true
  image:
    description: Image slug.
    type: str
    default: ubuntu-24-04-x64
  tag:
    description: Tag that finds the droplet on re-runs and carries the firewall.
    type: str
    default: supermark
  extra_tags:
    description: More droplet tags.
    type: list
    elements: str
    default: []
  vpc_uuid:
    description: VPC to place the droplet in (empty for the region's default).
    type: str
    default: ""
  project_id:
    description: Project (UUID) to assign the droplet, volume and reserved IP to (empty for the default).
    type: str
    default: ""
  monitoring:
    description: Install the DigitalOcean metrics agent.
    type: bool
    default: true
  backups:
    description: DigitalOcean's weekly droplet backups (paid).
    type: bool
    default: false
  ipv6:
    description: Enable IPv6 (and AAAA records).
    type: bool
    default: true
  ssh_public_key:
    description: The operator's SSH public key.
    type: str
    required: true
  ssh_key_name:
    description: Name of the key in the account (the key is found by fingerprint).
    type: str
    default: supermark-ops
  deploy_user:
    description: User cloud-init creates with the key and sudo.
    type: str
    default: deploy
  firewall_ssh_cidrs:
    description: Networks allowed to reach port 22.
    type: list
    elements: str
    default: [0.0.0.0/0, "::/0"]
  volume_size_gb:
    description: Size of the data volume (0 for none).
    type: int
    default: 0
  volume_name:
    description: Name of the data volume.
    type: str
    default: ""
  reserved_ip:
    description: Assign a reserved IPv4.
    type: bool
    default: false
  dns_domain:
    description: Domain for the A/AAAA records (empty for none).
    type: str
    default: ""
  dns_app_name:
    description: Record name of the app (@ for the domain itself).
    type: str
    default: "@"
  dns_files_name:
    description: Record name of the documents host.
    type: str
    default: files
  dns_ttl:
    description: TTL of the records.
    type: int
    default: 300
  watch_enabled:
    description: Create DigitalOcean's uptime check and alert policies (O(state=absent) removes them anyway).
    type: bool
    default: true
  watch_emails:
    description: Addresses the watch e-mails; they must be verified on the DigitalOcean account.
    type: list
    elements: str
    default: []
  watch_regions:
    description: Where the uptime check probes from (us_east, us_west, eu_west, se_asia).
    type: list
    elements: str
    default: [us_east, eu_west]
  watch_latency_ms:
    description: Alert when /api/health answers slower than this (milliseconds) for 5 minutes.
    type: int
    default: 2000
  watch_tls_days:
    description: Alert when the TLS certificate expires within this many days.
    type: int
    default: 14
  watch_cpu_percent:
    description: Alert when the droplet's CPU stays above this percentage for 10 minutes.
    type: int
    default: 90
  watch_memory_percent:
    description: Alert when its memory use stays above this percentage for 10 minutes.
    type: int
    default: 90
  watch_disk_percent:
    description: Alert when its disk use stays above this percentage for 10 minutes.
    type: int
    default: 85
  mail_records:
    description:
      - The sender domain's records that Resend lists (each C(type) TXT, MX or CNAME, C(name) in the zone,
        C(data), and C(priority) for MX), created in O(dns_domain) like the A records.
    type: list
    elements: dict
    default: []
  extra_regions:
    description: Region slugs to accept beyond the known list.
    type: list
    elements: str
    default: []
  active_timeout:
    description: Seconds to wait for a new droplet to become active.
    type: int
    default: 600
  delete_volume:
    description: With O(state=absent), delete the data volume too.
    type: bool
    default: false
  snapshot_before_destroy:
    description: With O(state=absent), snapshot the droplet before deleting it.
    type: bool
    default: true
author: supermark-ops
"""

EXAMPLES = r"""
- name: Create the droplet
  supermark_digitalocean:
    api_token: "{{ supermark_do_token }}"
    name: supermark
    region: fra1
    size: s-2vcpu-4gb
    ssh_public_key: "{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"
    dns_domain: docs.example.com
  register: infra
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done).
  type: list
  elements: str
  returned: always
droplet_id:
  description: The droplet's ID.
  type: int
  returned: state=present and not a first check-mode run
ipv4:
  description: The address to reach the droplet at (the reserved IP when one is assigned).
  type: str
  returned: state=present
ipv6:
  description: Its public IPv6 address.
  type: str
  returned: state=present
dns_managed:
  description: Whether the domain is managed by DigitalOcean.
  type: bool
  returned: state=present and dns_domain set
dns_records_to_create:
  description: Records to create at your DNS provider when the domain is not on DigitalOcean.
  type: list
  elements: str
  returned: state=present
watch_check_id:
  description: The uptime check's ID.
  type: str
  returned: state=present and watch_enabled, once the check exists
watch_target:
  description: The URL the uptime check probes.
  type: str
  returned: state=present and watch_enabled
"""

import sys  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

SPEC_FIELDS = {
    "api_token": "token",
    "name": "name",
    "region": "region",
    "size": "size",
    "image": "image",
    "tag": "tag",
    "extra_tags": "extra_tags",
    "vpc_uuid": "vpc_uuid",
    "project_id": "project_id",
    "monitoring": "monitoring",
    "backups": "backups",
    "ipv6": "ipv6",
    "ssh_public_key": "ssh_public_key",
    "ssh_key_name": "ssh_key_name",
    "deploy_user": "deploy_user",
    "firewall_ssh_cidrs": "ssh_cidrs",
    "volume_size_gb": "volume_size_gib",
    "volume_name": "volume_name",
    "reserved_ip": "reserved_ip",
    "dns_domain": "domain",
    "dns_app_name": "app_name",
    "dns_files_name": "files_name",
    "dns_ttl": "dns_ttl",
    "extra_regions": "extra_regions",
    "watch_enabled": "watch_enabled",
    "watch_emails": "watch_emails",
    "watch_regions": "watch_regions",
    "watch_latency_ms": "watch_latency_ms",
    "watch_tls_days": "watch_tls_days",
    "watch_cpu_percent": "watch_cpu_percent",
    "watch_memory_percent": "watch_memory_percent",
    "watch_disk_percent": "watch_disk_percent",
    "mail_records": "mail_records",
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "api_token": {"type": "str", "required": True, "no_log": True},
            "api_url": {"type": "str", "default": "https://api.digitalocean.com"},
            "name": {"type": "str", "required": True},
            "region": {"type": "str", "required": True},
            "size": {"type": "str", "required": True},
            "image": {"type": "str", "default": "ubuntu-24-04-x64"},
            "tag": {"type": "str", "default": "supermark"},
            "extra_tags": {"type": "list", "elements": "str", "default": []},
            "vpc_uuid": {"type": "str", "default": ""},
            "project_id": {"type": "str", "default": ""},
            "monitoring": {"type": "bool", "default": True},
            "backups": {"type": "bool", "default": False},
            "ipv6": {"type": "bool", "default": True},
            "ssh_public_key": {"type": "str", "required": True},
            "ssh_key_name": {"type": "str", "default": "supermark-ops"},
            "deploy_user": {"type": "str", "default": "deploy"},
            "firewall_ssh_cidrs": {"type": "list", "elements": "str", "default": ["0.0.0.0/0", "::/0"]},
            "volume_size_gb": {"type": "int", "default": 0},
            "volume_name": {"type": "str", "default": ""},
            "reserved_ip": {"type": "bool", "default": False},
            "dns_domain": {"type": "str", "default": ""},
            "dns_app_name": {"type": "str", "default": "@"},
            "dns_files_name": {"type": "str", "default": "files"},
            "dns_ttl": {"type": "int", "default": 300},
            "extra_regions": {"type": "list", "elements": "str", "default": []},
            "watch_enabled": {"type": "bool", "default": True},
            "watch_emails": {"type": "list", "elements": "str", "default": []},
            "watch_regions": {"type": "list", "elements": "str", "default": ["us_east", "eu_west"]},
            "watch_latency_ms": {"type": "int", "default": 2000},
            "watch_tls_days": {"type": "int", "default": 14},
            "watch_cpu_percent": {"type": "int", "default": 90},
            "watch_memory_percent": {"type": "int", "default": 90},
            "watch_disk_percent": {"type": "int", "default": 85},
            "mail_records": {"type": "list", "elements": "dict", "default": []},
            "active_timeout": {"type": "int", "default": 600},
            "delete_volume": {"type": "bool", "default": False},
            "snapshot_before_destroy": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops.digitalocean.api import DOClient, DOError
        from supermark_ops.digitalocean.provision import ProvisionSpec, destroy, provision, validate
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}. Run scripts/setup.sh "
            "and run ansible-playbook from .venv (or set ansible_python_interpreter for localhost)."
        )
    p = module.params
    spec = ProvisionSpec(**{field: p[arg] for arg, field in SPEC_FIELDS.items()})
    if p["state"] == "absent":
        # Removal finds the watch by name: it needs none of its settings.
        spec.watch_enabled = False
    try:
        validate(spec)  # before any request
        client = DOClient(spec.token, endpoint=p["api_url"])
        if p["state"] == "absent":
            result = destroy(
                client,
                spec,
                delete_volume=p["delete_volume"],
                snapshot_first=p["snapshot_before_destroy"],
                dry_run=module.check_mode,
            )
        else:
            result = provision(client, spec, dry_run=module.check_mode, active_timeout=p["active_timeout"])
    except DOError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
