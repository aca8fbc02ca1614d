"""Shared fixtures live in tests/support/, one module per room."""

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.pki",
    "tests.support.broker",
    "tests.support.hub",
    "tests.support.county",
]
