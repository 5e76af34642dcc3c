"""The monitor: checks that can fail, alerts on change."""
