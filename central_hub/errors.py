"""One exception hierarchy for the hub; library errors (sqlite3, psycopg, paho) never leak past it."""

from __future__ import annotations


class HubError(Exception):
    """Base of every error raised by the hub."""


class HubConfigError(HubError):
    """The hub cannot start: bad site directory, database URL, key file or identity."""


class StoreError(HubError):
    """The store refused an operation (bad data, constraint); retrying the same input will not help."""


class StoreUnavailable(StoreError):
    """The store is unreachable or busy (connection lost, lock timeout, deadlock); retry later."""
