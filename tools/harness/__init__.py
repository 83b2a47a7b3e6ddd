"""Drives the project from the host for the tests and the benchmarks: commands, Docker, compose,
the Dev Containers CLI, HTTP, a Debug Adapter Protocol client. Standard library only, except
kube.py (its modules are imported where used)."""
