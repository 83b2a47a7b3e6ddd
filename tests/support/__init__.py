"""Helpers shared by the test suites (no third-party dependencies)."""
