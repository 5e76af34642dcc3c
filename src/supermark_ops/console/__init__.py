"""The operator's console: the project's playbooks run through ansible-runner, with progress,
the failure said plainly, and a closing summary (docs/architecture.md, "The console")."""
