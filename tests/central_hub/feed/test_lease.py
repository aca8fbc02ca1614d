"""One sender per hub database, on both back ends; the lock goes with its holder."""

from __future__ import annotations

import pytest

from central_hub.feed.lease import SenderLease
from tests.support.hub import pg_schema_url


def test_only_one_holder_at_a_time(hub_db_url: str) -> None:
    first, second = SenderLease(hub_db_url), SenderLease(hub_db_url)
    assert first.try_acquire() and first.try_acquire()  # re-entrant for its holder
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


@pytest.mark.integration
def test_another_hub_database_in_the_same_postgresql_is_not_blocked(pg_dsn: str) -> None:
    with pg_schema_url(pg_dsn) as a, pg_schema_url(pg_dsn) as b:
        one, other = SenderLease(a), SenderLease(b)
        assert one.try_acquire() and other.try_acquire()
        one.release()
        other.release()
