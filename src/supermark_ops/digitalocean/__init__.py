"""DigitalOcean provisioning: API client, idempotent resources, the plan."""
